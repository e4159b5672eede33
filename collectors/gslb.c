/* gslb.c: the GSLB observer. Resolves the GSLB name with c-ares against each configured
 * resolver and probes each site's /health the way the F5 monitor does (gslb.md).
 *
 * Each resolver and each probe is one scheduler target. A lookup's answer is classified by the
 * sites' addresses (site/gslb_class.h: gold, golddr, both, none, unknown or error; an error is
 * never an answer) and every A record is exported. A probe is up, down or wrong_body. Both are
 * observations, not collection failures: a resolver that times out still gives a sample (class
 * "error", status "timeout", also counted in drwatch_collector_errors_total as dns_timeout),
 * because rules must see it.
 *
 * How long a class or probe status has held and how often it changed live in "memories" that
 * outlive a config reload (keyed by name and resolver, or site and probe), so that a reload
 * does not restart the "N consecutive samples" evidence. After every sample the observation is
 * also put in the peer view (site/peer_view.h) that the peer endpoint serves.
 *
 * Uses: exporter/dns (c-ares on the loop), exporter/httpc (curl multi), exporter/gslb
 * (classification), site/peer_view, exporter/target (HTTP settings). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "collector_env.h"
#include "collectors.h"
#include "dns.h"
#include "gslb_class.h"
#include "http_client.h"
#include "http_target.h"
#include "keep.h"
#include "log.h"
#include "peer_view.h"
#include "strutil.h"
#include "xalloc.h"

#define MAX_SITE_ADDRS 64
#define MAX_RESOLVERS  16
#define MAX_PROBES     16
#define MAX_COUNTED    16
#define PROBE_MAX_BODY (64 << 10) /* a /health page is tiny; more is wrong_body */

struct gslb_probe_config {
    struct http_target http;
    char *host;
    char *connect_to;
    char *expect_body;
};

struct gslb_sites_config {
    struct cfg_strings gold, golddr;
};

struct gslb_config {
    char *name;
    struct gslb_sites_config sites;
    struct cfg_strings resolvers;
    int64_t interval_ms;
    int64_t timeout_ms;
    int64_t tries;
    struct cfg_list probes;
};

static const struct cfg_key gslb_site_keys[] = {
    {.name = "gold",
     .type = CFG_STRINGS,
     .required = true,
     .offset = offsetof(struct gslb_sites_config, gold),
     .expect = "Gold's IPv4 addresses as the GSLB answers them"},
    {.name = "golddr",
     .type = CFG_STRINGS,
     .required = true,
     .offset = offsetof(struct gslb_sites_config, golddr),
     .expect = "GoldDR's IPv4 addresses as the GSLB answers them"},
    CFG_END,
};

static const struct cfg_key gslb_probe_keys[] = {
    HTTP_TARGET_KEYS(struct gslb_probe_config, http),
    {.name = "host",
     .type = CFG_STRING,
     .offset = offsetof(struct gslb_probe_config, host),
     .expect = "the Host header to send (the public name; the URL names the site's IP)"},
    {.name = "connect_to",
     .type = CFG_STRING,
     .offset = offsetof(struct gslb_probe_config, connect_to),
     .expect = "the site's IP address to connect to, when the URL names the public host (then "
               "TLS verifies the certificate against that name)"},
    {.name = "expect_body",
     .type = CFG_STRING,
     .def = GSLB_IAMALIVE_BODY,
     .offset = offsetof(struct gslb_probe_config, expect_body),
     .expect = "the body a healthy site answers, trailing white space aside"},
    CFG_END,
};

static const struct cfg_key gslb_keys[] = {
    {.name = "name",
     .type = CFG_STRING,
     .required = true,
     .offset = offsetof(struct gslb_config, name),
     .expect = "the GSLB DNS name to resolve"},
    {.name = "sites",
     .type = CFG_TABLE,
     .offset = offsetof(struct gslb_config, sites),
     .sub = gslb_site_keys,
     .expect = "{ gold = { \"ip\", ... }, golddr = { \"ip\", ... } }"},
    {.name = "resolvers",
     .type = CFG_STRINGS,
     .offset = offsetof(struct gslb_config, resolvers),
     .expect = "\"system\" or resolver addresses (ip, ip:port, [v6]:port); default { \"system\" }"},
    {.name = "interval",
     .type = CFG_DURATION,
     .offset = offsetof(struct gslb_config, interval_ms),
     .expect = "how often to resolve and probe, 1s to 1h (default: drwatch.fast_interval)",
     .min = 1000,
     .max = 3600000},
    {.name = "timeout",
     .type = CFG_DURATION,
     .def = "1s",
     .offset = offsetof(struct gslb_config, timeout_ms),
     .expect = "how long to wait for one DNS try, 10ms to 30s",
     .min = 10,
     .max = 30000},
    {.name = "tries",
     .type = CFG_INT,
     .def = "2",
     .offset = offsetof(struct gslb_config, tries),
     .expect = "DNS tries per lookup, 1 to 5",
     .min = 1,
     .max = 5},
    {.name = "probes",
     .type = CFG_LIST,
     .offset = offsetof(struct gslb_config, probes),
     .sub = gslb_probe_keys,
     .sub_size = sizeof(struct gslb_probe_config),
     .expect = "{ { site = ..., url = \"https://<site ip>/health\", host = ... }, ... }"},
    CFG_END,
};

/* ---- memories: what survives scrapes and reloads ---- */

struct counted {
    struct {
        char what[40];
        uint64_t n;
    } v[MAX_COUNTED];
    size_t n;
};

/* What a resolver's or a probe's target remembers across reloads (exporter/keep.h). */
struct memory {
    struct gslb_streak streak;
    struct counted counts;
    struct complaint complaint;
};

static void memory_init(void *mem)
{
    gslb_streak_init(&((struct memory *)mem)->streak);
}

static void counted_add(struct counted *c, const char *what)
{
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->v[i].what, what) == 0) {
            c->v[i].n++;
            return;
        }
    }
    if (c->n == MAX_COUNTED) {
        what = "other"; /* the last slot collects every further value */
        if (strcmp(c->v[c->n - 1].what, what) == 0) {
            c->v[c->n - 1].n++;
            return;
        }
        c->n--;
    }
    snprintf(c->v[c->n].what, sizeof(c->v[0].what), "%s", what);
    c->v[c->n++].n = 1;
}

/* ---- targets ---- */

/* The parts of a section every target of it shares. */
struct shared {
    int refs;
    char *name;
    struct in_addr addrs[2][MAX_SITE_ADDRS];
    struct gslb_sites sites;
    struct loop *loop;
    struct httpc *http;
    struct keep *keep;         /* the daemon's */
    struct peerview *peerview; /* the daemon's */
};

enum kind { KIND_RESOLVER, KIND_PROBE };

struct target {
    enum kind kind;
    struct shared *sh;
    struct memory *mem;
    char *label;
    struct scrape *scrape;
    /* a resolver */
    char *servers; /* NULL: the system's */
    struct dns_opts dns_opts;
    int64_t budget_ms;
    struct dns *dns;
    struct loop_timer *deadline;
    double started;
    /* a probe */
    struct http_target http; /* strings owned */
    char *host_header;       /* "Host: ..." or NULL */
    char *connect_to;        /* curl CONNECT_TO entry, or NULL */
    char *expect;
    int64_t http_timeout_ms;
    struct httpc_req *req;
};

static void shared_unref(struct shared *sh)
{
    if (!sh || --sh->refs > 0) return;
    free(sh->name);
    free(sh);
}

static void target_cancel(void *state)
{
    struct target *t = state;
    t->scrape = NULL;
    if (t->kind == KIND_RESOLVER) {
        if (t->deadline) loop_timer_stop(t->deadline);
        dns_cancel(t->dns);
    } else {
        httpc_cancel(t->req);
        t->req = NULL;
    }
}

static void target_free(void *state)
{
    struct target *t = state;
    if (!t) return;
    target_cancel(t);
    dns_free(t->dns);
    loop_timer_free(t->deadline);
    if (t->mem && keep_refs(t->mem) == 1) peerview_drop(t->sh->peerview, t->mem);
    keep_put(t->sh->keep, t->mem);
    shared_unref(t->sh);
    free(t->label);
    free(t->servers);
    http_target_clear(&t->http);
    free(t->host_header);
    free(t->connect_to);
    free(t->expect);
    free(t);
}

/* ---- metrics helpers ---- */

static struct metric_family *gauge(struct metric_set *m, const char *name, const char *help,
                                   const char *unit)
{
    struct metric_family *f = mset_family(m, name, METRIC_GAUGE, help);
    if (unit) mset_family_set_unit(m, f, unit);
    return f;
}

static struct metric_family *counter(struct metric_set *m, const char *name, const char *help)
{
    return mset_family(m, name, METRIC_COUNTER, help);
}

#define EVERY " Sampled every gslb interval (default drwatch.fast_interval, 5s)."

/* ---- resolvers ---- */

static void add_lookup_metrics(struct target *t, struct metric_set *m, const struct dns_answer *a,
                               enum gslb_class cls, int min_ttl)
{
    const char *r = t->label;
    const struct memory *mem = t->mem;
    struct metric_family *fc = gauge(
        m, "drwatch_gslb_answer_class",
        "Class of the GSLB answer per resolver: 1 for the class of the last answer, 0 for the "
        "others (gold, golddr, both, none, unknown: an address of neither site, error: no "
        "answer)." EVERY,
        NULL);
    for (int k = 0; k < GSLB_CLASS_COUNT; k++)
        mset_addv(m, fc, k == (int)cls, "resolver", r, "class", gslb_class_name((enum gslb_class)k),
                  LABELS_END);
    char servers[256];
    dns_servers(t->dns, servers, sizeof(servers));
    mset_addv(m,
              mset_family(m, "drwatch_gslb_lookup_info", METRIC_INFO,
                          "The last lookup of the GSLB name per resolver: the name, the servers "
                          "asked and the DNS status (ok, nodata, nxdomain, servfail, refused, "
                          "timeout, formerr, connrefused, error)."),
              1, "resolver", r, "name", t->sh->name, "servers", servers, "status", a->status,
              LABELS_END);
    struct metric_family *fa =
        gauge(m, "drwatch_gslb_answer_address",
              "Each A record of the last GSLB answer per resolver (1), with the site it belongs to "
              "(no site label for an address of neither site).",
              NULL);
    for (size_t i = 0; i < a->naddrs; i++) {
        char ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &a->addrs[i], ip, sizeof(ip));
        const char *site = gslb_address_site(&t->sh->sites, a->addrs[i]);
        mset_addv(m, fa, 1, "resolver", r, "address", ip, "site", site ? site : "", LABELS_END);
    }
    mset_addv(m,
              gauge(m, "drwatch_gslb_answer_addresses",
                    "Number of A records in the last GSLB answer per resolver.", NULL),
              (double)a->naddrs, "resolver", r, LABELS_END);
    if (min_ttl >= 0)
        mset_addv(m,
                  gauge(m, "drwatch_gslb_answer_ttl_seconds",
                        "Smallest TTL of the A records of the last GSLB answer per resolver.",
                        "seconds"),
                  min_ttl, "resolver", r, LABELS_END);
    mset_addv(m,
              gauge(m, "drwatch_gslb_lookup_duration_seconds",
                    "How long the last lookup of the GSLB name took per resolver (retries "
                    "included).",
                    "seconds"),
              a->duration_s, "resolver", r, LABELS_END);
    mset_addv(m,
              gauge(m, "drwatch_gslb_class_held_samples",
                    "Consecutive samples the current GSLB answer class has held per resolver "
                    "(1 right after a change)." EVERY,
                    NULL),
              (double)mem->streak.held, "resolver", r, LABELS_END);
    mset_addv(m,
              counter(m, "drwatch_gslb_class_changes_total",
                      "Times the GSLB answer class changed per resolver."),
              (double)mem->streak.changes, "resolver", r, LABELS_END);
    mset_addv(m,
              gauge(m, "drwatch_gslb_class_since_timestamp_seconds",
                    "When the current GSLB answer class began per resolver (Unix time).",
                    "seconds"),
              mem->streak.since, "resolver", r, LABELS_END);
    struct metric_family *fl = counter(m, "drwatch_gslb_lookups_total",
                                       "Lookups of the GSLB name per resolver, by DNS status.");
    for (size_t i = 0; i < mem->counts.n; i++)
        mset_addv(m, fl, (double)mem->counts.v[i].n, "resolver", r, "status", mem->counts.v[i].what,
                  LABELS_END);
}

static void publish_lookup(const struct target *t, const struct dns_answer *a, enum gslb_class cls,
                           int min_ttl, double now)
{
    struct peerview_lookup l = {.name = t->sh->name,
                                .resolver = t->label,
                                .class_name = gslb_class_name(cls),
                                .status = a->status,
                                .ttl = min_ttl,
                                .held = t->mem->streak.held,
                                .changes = t->mem->streak.changes,
                                .since = t->mem->streak.since,
                                .observed = now,
                                .duration_s = a->duration_s};
    l.naddrs = a->naddrs < PEERVIEW_MAX_ADDRS ? a->naddrs : PEERVIEW_MAX_ADDRS;
    memcpy(l.addrs, a->addrs, l.naddrs * sizeof(l.addrs[0]));
    peerview_put_lookup(t->sh->peerview, t->mem, &l);
}

static void resolver_finish(struct target *t, const struct dns_answer *a)
{
    struct scrape *s = t->scrape;
    t->scrape = NULL;
    if (t->deadline) loop_timer_stop(t->deadline);
    if (!s) return;
    double now = time_wall_s();
    enum gslb_class cls = gslb_answer_classify(&t->sh->sites, a->status, a->addrs, a->naddrs);
    int prev = t->mem->streak.value;
    uint64_t prev_held = t->mem->streak.held;
    if (gslb_streak_add(&t->mem->streak, (int)cls, now))
        log_info("gslb", "resolver %s: %s answer class %s -> %s after %llu samples", t->label,
                 t->sh->name, gslb_class_name((enum gslb_class)prev), gslb_class_name(cls),
                 (unsigned long long)prev_held);
    counted_add(&t->mem->counts, a->status);
    int min_ttl = -1;
    for (size_t i = 0; i < a->naddrs; i++)
        if (min_ttl < 0 || a->ttls[i] < min_ttl) min_ttl = a->ttls[i];
    add_lookup_metrics(t, scrape_set(s), a, cls, min_ttl);
    publish_lookup(t, a, cls, min_ttl, now);
    if (cls == GSLB_CLASS_ERROR) {
        char reason[48];
        snprintf(reason, sizeof(reason), "dns_%s", a->status);
        scrape_count_error(s, reason);
        log_complain(&t->mem->complaint, LOG_WARN, "gslb",
                     "resolver %s: lookup of %s failed: %s (%s)", t->label, t->sh->name, a->status,
                     a->detail ? a->detail : "");
    } else {
        log_complain_clear(&t->mem->complaint, "gslb", "resolver %s answers again (%s)", t->label,
                           gslb_class_name(cls));
    }
    scrape_done(s, true, NULL, NULL);
}

static void on_answer(void *arg, const struct dns_answer *a)
{
    resolver_finish(arg, a);
}

static void on_lookup_deadline(void *arg)
{
    struct target *t = arg;
    dns_cancel(t->dns);
    char detail[96];
    snprintf(detail, sizeof(detail), "no answer within %.3gs (the lookup's share of the interval)",
             (double)t->budget_ms / 1000.0);
    struct dns_answer a = {.status = "timeout", .detail = detail};
    a.duration_s = time_mono_s() - t->started;
    resolver_finish(t, &a);
}

static void resolver_start(struct target *t, struct scrape *s)
{
    if (!t->dns) {
        char err[256];
        t->dns = dns_new(t->sh->loop, &t->dns_opts, err, sizeof(err));
        if (!t->dns) {
            scrape_done(s, false, "resolver", err);
            return;
        }
    }
    if (!t->deadline) t->deadline = loop_timer_new(t->sh->loop, on_lookup_deadline, t);
    t->scrape = s;
    t->started = time_mono_s();
    loop_timer_start(t->deadline, t->budget_ms);
    dns_query_a(t->dns, t->sh->name, on_answer, t);
}

/* ---- probes ---- */

static void add_probe_metrics(struct target *t, struct metric_set *m, enum gslb_probe_status st,
                              long http_status, double duration)
{
    const char *site = http_target_site(&t->http), *p = t->label;
    const struct memory *mem = t->mem;
    struct metric_family *fs =
        gauge(m, "drwatch_gslb_probe_status",
              "The last /health probe of a site as the GSLB monitor sees it: 1 for its status, 0 "
              "for the others (up: the expected body; down: no answer or not 2xx; wrong_body: 2xx "
              "with another body)." EVERY,
              NULL);
    for (int k = 0; k < GSLB_PROBE_STATUS_COUNT; k++)
        mset_addv(m, fs, k == (int)st, "site", site, "probe", p, "status",
                  gslb_probe_status_name((enum gslb_probe_status)k), LABELS_END);
    mset_addv(m,
              gauge(m, "drwatch_gslb_probe_up",
                    "1 if the last /health probe of the site found it up, else 0.", NULL),
              st == GSLB_PROBE_UP, "site", site, "probe", p, LABELS_END);
    mset_addv(m,
              gauge(m, "drwatch_gslb_probe_duration_seconds",
                    "How long the last /health probe of the site took.", "seconds"),
              duration, "site", site, "probe", p, LABELS_END);
    mset_addv(m,
              gauge(m, "drwatch_gslb_probe_http_status",
                    "HTTP status of the last /health probe of the site (0 when none came).", NULL),
              (double)http_status, "site", site, "probe", p, LABELS_END);
    mset_addv(m,
              gauge(m, "drwatch_gslb_probe_status_held_samples",
                    "Consecutive samples the /health probe status of the site has held." EVERY,
                    NULL),
              (double)mem->streak.held, "site", site, "probe", p, LABELS_END);
    mset_addv(m,
              counter(m, "drwatch_gslb_probe_status_changes_total",
                      "Times the /health probe status of the site changed."),
              (double)mem->streak.changes, "site", site, "probe", p, LABELS_END);
    struct metric_family *fr =
        counter(m, "drwatch_gslb_probe_results_total",
                "/health probes of the site by result reason (ok, body_mismatch, body_too_large, "
                "timeout, connect, tls, http_<status>, ...).");
    for (size_t i = 0; i < mem->counts.n; i++)
        mset_addv(m, fr, (double)mem->counts.v[i].n, "site", site, "probe", p, "reason",
                  mem->counts.v[i].what, LABELS_END);
}

static void on_probe_done(void *arg, const struct httpc_result *r)
{
    struct target *t = arg;
    struct scrape *s = t->scrape;
    t->req = NULL;
    t->scrape = NULL;
    if (!s) return;
    char reason[48];
    enum gslb_probe_status st = gslb_probe_classify(r->ok, r->reason, r->status, r->body,
                                                    r->body_len, t->expect, reason, sizeof(reason));
    double now = time_wall_s();
    int prev = t->mem->streak.value;
    if (gslb_streak_add(&t->mem->streak, (int)st, now))
        log_info("gslb", "probe %s of %s: %s -> %s (%s)", t->label, http_target_site(&t->http),
                 gslb_probe_status_name((enum gslb_probe_status)prev), gslb_probe_status_name(st),
                 st == GSLB_PROBE_DOWN && r->error ? r->error : reason);
    counted_add(&t->mem->counts, reason);
    add_probe_metrics(t, scrape_set(s), st, r->status, r->duration_s);
    struct peerview_probe pv = {.site = http_target_site(&t->http),
                                .probe = t->label,
                                .status = gslb_probe_status_name(st),
                                .reason = reason,
                                .http_status = r->status,
                                .held = t->mem->streak.held,
                                .changes = t->mem->streak.changes,
                                .observed = now,
                                .duration_s = r->duration_s};
    peerview_put_probe(t->sh->peerview, t->mem, &pv);
    scrape_done(s, true, NULL, NULL);
}

static void probe_start(struct target *t, struct scrape *s)
{
    struct httpc_opts o;
    char *token = NULL, err[256];
    if (http_target_opts(&t->http, t->http.url, &o, &token, err, sizeof(err)) < 0) {
        scrape_done(s, false, "token", err);
        return;
    }
    const char *headers[2] = {t->host_header, NULL};
    o.headers = t->host_header ? headers : NULL;
    o.connect_to = t->connect_to;
    o.timeout_ms = t->http_timeout_ms;
    o.accept_gzip = 0; /* as the F5 monitor asks */
    if (o.max_body > PROBE_MAX_BODY) o.max_body = PROBE_MAX_BODY;
    t->scrape = s;
    t->req = httpc_start(t->sh->http, &o, on_probe_done, t);
    free(token);
    if (!t->req && t->scrape) {
        t->scrape = NULL;
        scrape_done(s, false, "transport", "the HTTP client refused the request");
    }
}

static void gslb_start(void *state, struct scrape *s)
{
    struct target *t = state;
    if (t->kind == KIND_RESOLVER)
        resolver_start(t, s);
    else
        probe_start(t, s);
}

/* ---- create ---- */

static int parse_sites(struct shared *sh, const struct gslb_config *c, char *err, size_t errlen)
{
    const struct cfg_strings *lists[2] = {&c->sites.gold, &c->sites.golddr};
    size_t n[2] = {0, 0};
    for (int s = 0; s < 2; s++) {
        if (lists[s]->n == 0 || lists[s]->n > MAX_SITE_ADDRS) {
            snprintf(err, errlen, "gslb: sites.%s: give 1 to %d IPv4 addresses", drwatch_sites[s],
                     MAX_SITE_ADDRS);
            return -1;
        }
        for (size_t i = 0; i < lists[s]->n; i++) {
            if (inet_pton(AF_INET, lists[s]->v[i], &sh->addrs[s][n[s]]) != 1) {
                snprintf(err, errlen, "gslb: sites.%s[%zu]: \"%s\" is not an IPv4 address",
                         drwatch_sites[s], i + 1, lists[s]->v[i]);
                return -1;
            }
            n[s]++;
        }
    }
    sh->sites = (struct gslb_sites){sh->addrs[0], n[0], sh->addrs[1], n[1]};
    for (size_t i = 0; i < n[0]; i++) {
        if (gslb_address_site(&(struct gslb_sites){.golddr = sh->addrs[1], .ngolddr = n[1]},
                              sh->addrs[0][i])) {
            snprintf(err, errlen, "gslb: %s is listed for both sites", c->sites.gold.v[i]);
            return -1;
        }
    }
    return 0;
}

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253) return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '.' || ch == '_'))
            return false;
    }
    return true;
}

/* "ip", "ip:port", "[v6]:port" or a bare IPv6 address. */
static bool resolver_ok(const char *r)
{
    char host[64];
    const char *port = NULL;
    unsigned char buf[16];
    if (r[0] == '[') {
        const char *end = strchr(r, ']');
        if (!end || (size_t)(end - r - 1) >= sizeof(host)) return false;
        memcpy(host, r + 1, (size_t)(end - r - 1));
        host[end - r - 1] = '\0';
        if (end[1] && end[1] != ':') return false;
        if (end[1]) port = end + 2;
        if (inet_pton(AF_INET6, host, buf) != 1) return false;
    } else if (strchr(r, ':') && strchr(r, ':') != strrchr(r, ':')) {
        return inet_pton(AF_INET6, r, buf) == 1;
    } else {
        const char *colon = strchr(r, ':');
        size_t hl = colon ? (size_t)(colon - r) : strlen(r);
        if (hl >= sizeof(host)) return false;
        memcpy(host, r, hl);
        host[hl] = '\0';
        if (colon) port = colon + 1;
        if (inet_pton(AF_INET, host, buf) != 1) return false;
    }
    if (!port) return true;
    char *end;
    long p = strtol(port, &end, 10);
    return *port && !*end && p > 0 && p < 65536;
}

static struct target *target_new(enum kind kind, struct shared *sh, const char *label,
                                 const char *key)
{
    struct target *t = xcalloc(1, sizeof(*t));
    t->kind = kind;
    t->sh = sh;
    sh->refs++;
    t->label = xstrdup(label);
    t->mem = keep_get(sh->keep, key, sizeof(struct memory), memory_init, NULL);
    return t;
}

static int add_resolvers(struct shared *sh, const struct gslb_config *c, int64_t interval,
                         struct target_list *out, char *err, size_t errlen)
{
    static const char *const system_only[] = {"system"};
    const char *const *v = c->resolvers.n ? (const char *const *)c->resolvers.v : system_only;
    size_t n = c->resolvers.n ? c->resolvers.n : 1;
    if (n > MAX_RESOLVERS) {
        snprintf(err, errlen, "gslb: at most %d resolvers", MAX_RESOLVERS);
        return -1;
    }
    /* c-ares doubles the timeout at each retry: tries 3 of 1s can take 1+2+4 = 7s. */
    int64_t budget = interval - (interval / 10 < 500 ? interval / 10 : 500);
    int64_t worst = c->timeout_ms * ((1LL << c->tries) - 1);
    for (size_t i = 0; i < n; i++) {
        bool sys = strcmp(v[i], "system") == 0;
        if (!sys && !resolver_ok(v[i])) {
            snprintf(err, errlen,
                     "gslb: resolvers[%zu]: \"%s\" is not \"system\", ip, ip:port or [v6]:port",
                     i + 1, v[i]);
            return -1;
        }
        for (size_t k = 0; k < i; k++) {
            if (strcmp(v[k], v[i]) == 0) {
                snprintf(err, errlen, "gslb: resolver \"%s\" is listed twice", v[i]);
                return -1;
            }
        }
        if (!sys && worst > budget) {
            snprintf(err, errlen,
                     "gslb: timeout %.3gs with %lld tries can take %.3gs per lookup (c-ares "
                     "doubles the timeout at each retry), more than the %.3gs the interval "
                     "leaves: lower timeout or tries, or raise interval",
                     (double)c->timeout_ms / 1000, (long long)c->tries, (double)worst / 1000,
                     (double)budget / 1000);
            return -1;
        }
        char *key = xasprintf("r\x1f%s\x1f%s", c->name, v[i]);
        struct target *t = target_new(KIND_RESOLVER, sh, v[i], key);
        free(key);
        t->servers = sys ? NULL : xstrdup(v[i]);
        t->dns_opts = (struct dns_opts){
            .servers = t->servers, .timeout_ms = (int)c->timeout_ms, .tries = (int)c->tries};
        t->budget_ms = budget;
        target_list_add(out, t, v[i], "", interval, interval);
    }
    return 0;
}

/* curl's CONNECT_TO entry for a probe whose URL names the public host: "host:port:ip:port". */
static int probe_connect_to(const struct gslb_probe_config *p, char **out, char *err, size_t errlen)
{
    const char *u = p->http.url, *h = strstr(u, "://");
    bool tls = str_has_prefix(u, "https://");
    struct in_addr a;
    if (!h || inet_pton(AF_INET, p->connect_to, &a) != 1) {
        snprintf(err, errlen, "gslb: probe %s: connect_to must be an IPv4 address",
                 http_target_label(&p->http));
        return -1;
    }
    h += 3;
    size_t hl = strcspn(h, ":/?");
    int port = h[hl] == ':' ? atoi(h + hl + 1) : (tls ? 443 : 80);
    *out = xasprintf("%.*s:%d:%s:%d", (int)hl, h, port, p->connect_to, port);
    return 0;
}

static int add_probes(struct shared *sh, const struct gslb_config *c, int64_t def_interval,
                      struct target_list *out, char *err, size_t errlen)
{
    const struct gslb_probe_config *pv = c->probes.items;
    if (c->probes.n > MAX_PROBES) {
        snprintf(err, errlen, "gslb: at most %d probes", MAX_PROBES);
        return -1;
    }
    for (size_t i = 0; i < c->probes.n; i++) {
        const struct gslb_probe_config *p = &pv[i];
        if (http_target_check(&p->http, err, errlen) < 0) return -1;
        const char *label = http_target_label(&p->http), *site = http_target_site(&p->http);
        for (size_t k = 0; k < i; k++) {
            if (pv[k].http.site == p->http.site &&
                strcmp(http_target_label(&pv[k].http), label) == 0) {
                snprintf(err, errlen, "gslb: probe %s of %s is listed twice", label, site);
                return -1;
            }
        }
        if (p->host && (!*p->host || strpbrk(p->host, "\r\n"))) {
            snprintf(err, errlen, "gslb: probe %s: host must be a name on one line", label);
            return -1;
        }
        int64_t interval = p->http.interval_ms ? p->http.interval_ms : def_interval;
        int64_t margin = interval / 10 < 500 ? interval / 10 : 500;
        int64_t timeout = p->http.timeout_ms ? p->http.timeout_ms : interval - margin;
        if (timeout > interval - margin) timeout = interval - margin;
        char *key = xasprintf("p\x1f%s\x1f%s", site, label);
        struct target *t = target_new(KIND_PROBE, sh, label, key);
        free(key);
        http_target_copy(&t->http, &p->http);
        t->host_header = p->host ? xasprintf("Host: %s", p->host) : NULL;
        if (p->connect_to && probe_connect_to(p, &t->connect_to, err, errlen) < 0) {
            target_free(t);
            return -1;
        }
        t->expect = xstrdup(p->expect_body ? p->expect_body : GSLB_IAMALIVE_BODY);
        t->http_timeout_ms = timeout;
        target_list_add(out, t, label, site, interval, interval);
    }
    return 0;
}

static int gslb_create(const void *config, const struct collector_env *env, struct target_list *out,
                       char *err, size_t errlen)
{
    const struct gslb_config *c = config;
    if (!name_ok(c->name)) {
        snprintf(err, errlen, "gslb: name \"%s\" is not a DNS name", c->name);
        return -1;
    }
    struct shared *sh = xcalloc(1, sizeof(*sh));
    sh->refs = 1;
    sh->name = xstrdup(c->name);
    sh->loop = env->loop;
    sh->http = env->http;
    sh->keep = env->keep;
    sh->peerview = env->peerview;
    int64_t interval = c->interval_ms ? c->interval_ms : env->fast_interval_ms;
    int rc = parse_sites(sh, c, err, errlen);
    if (rc == 0) rc = add_resolvers(sh, c, interval, out, err, errlen);
    if (rc == 0) rc = add_probes(sh, c, interval, out, err, errlen);
    shared_unref(sh); /* the targets hold theirs */
    return rc;
}

const struct collector_ops gslb_collector = {
    .name = "gslb",
    .module = {.name = "gslb", .keys = gslb_keys, .size = sizeof(struct gslb_config)},
    .create = gslb_create,
    .start = gslb_start,
    .cancel = target_cancel,
    .free = target_free,
};
