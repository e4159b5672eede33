/* test_gslb_class.c: what a GSLB observation means (site/gslb_class.h), table-driven: the class of
 * an answer for each status and mix of addresses (two addresses are "both", never "first address
 * wins"; an error is never an answer), the class of a /health response as the F5 monitor sees
 * it, streaks (held samples, changes), and dns_answer_parse on reply packets built here (A
 * records with their TTLs, a CNAME chain, no A record, garbage). */
#include <arpa/inet.h>
#include <ares.h>
#include <stdio.h>
#include <string.h>

#include "dns.h"
#include "gslb_class.h"
#include "tap.h"
#include "xalloc.h"

static struct in_addr ip(const char *s)
{
    struct in_addr a;
    inet_pton(AF_INET, s, &a);
    return a;
}

static void test_answers(void)
{
    struct in_addr gold[2] = {ip("142.34.229.4"), ip("142.34.229.5")};
    struct in_addr golddr[1] = {ip("142.34.64.4")};
    struct gslb_sites sites = {gold, 2, golddr, 1};
    static const struct {
        const char *status;
        const char *addrs[4];
        const char *want;
    } cases[] = {
        {"ok", {"142.34.229.4"}, "gold"},
        {"ok", {"142.34.229.5"}, "gold"},
        {"ok", {"142.34.229.4", "142.34.229.5"}, "gold"},
        {"ok", {"142.34.64.4"}, "golddr"},
        {"ok", {"142.34.229.4", "142.34.64.4"}, "both"},
        {"ok", {"142.34.64.4", "142.34.229.4"}, "both"}, /* either order: not first-wins */
        {"ok", {NULL}, "none"},
        {"nodata", {NULL}, "none"},
        {"ok", {"10.9.9.9"}, "unknown"},
        {"ok", {"142.34.229.4", "10.9.9.9"}, "unknown"},
        {"ok", {"10.9.9.9", "142.34.64.4"}, "unknown"},
        {"nxdomain", {NULL}, "error"},
        {"servfail", {NULL}, "error"},
        {"refused", {NULL}, "error"},
        {"timeout", {NULL}, "error"},
        {"connrefused", {NULL}, "error"},
        {"formerr", {NULL}, "error"},
        {"error", {NULL}, "error"},
        {"servfail", {"142.34.229.4"}, "error"}, /* an error is never an answer */
        {NULL, {NULL}, "error"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct in_addr v[4];
        size_t n = 0;
        char text[80] = "";
        for (; n < 4 && cases[i].addrs[n]; n++) {
            v[n] = ip(cases[i].addrs[n]);
            snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s%s", n ? "," : "",
                     cases[i].addrs[n]);
        }
        const char *got = gslb_class_name(gslb_answer_classify(&sites, cases[i].status, v, n));
        is_str(got, cases[i].want, "answer %s [%s] is %s", cases[i].status ? cases[i].status : "?",
               text, cases[i].want);
    }
    is_str(gslb_address_site(&sites, ip("142.34.64.4")), "golddr", "address site: golddr");
    ok(gslb_address_site(&sites, ip("1.1.1.1")) == NULL, "address site: neither is NULL");
    for (int c = 0; c < GSLB_CLASS_COUNT; c++) {
        const char *n = gslb_class_name((enum gslb_class)c);
        is_int(gslb_class_parse(n, strlen(n)), c, "class %s parses back", n);
    }
    is_int(gslb_class_parse("gol", 3), -1, "a prefix of a class is not a class");
}

static void test_probes(void)
{
    static const char page[] = GSLB_IAMALIVE_BODY;
    static const struct {
        int ok;
        const char *transport;
        long status;
        const char *body;
        const char *want, *reason;
    } cases[] = {
        {1, NULL, 200, GSLB_IAMALIVE_BODY, "up", "ok"},
        {1, NULL, 200, GSLB_IAMALIVE_BODY "\n", "up", "ok"},
        {1, NULL, 200, GSLB_IAMALIVE_BODY "\r\n \t", "up", "ok"},
        {1, NULL, 204, GSLB_IAMALIVE_BODY, "up", "ok"},
        {1, NULL, 200, " " GSLB_IAMALIVE_BODY, "wrong_body", "body_mismatch"},
        {1, NULL, 200, "iamalive", "wrong_body", "body_mismatch"},
        {1, NULL, 200, "<html><body>maintenance</body></html>", "wrong_body", "body_mismatch"},
        {1, NULL, 200, "", "wrong_body", "body_mismatch"},
        {1, NULL, 503, GSLB_IAMALIVE_BODY, "down", "http_503"},
        {1, NULL, 302, "", "down", "http_302"},
        {1, NULL, 404, "no route", "down", "http_404"},
        {0, "timeout", 0, "", "down", "timeout"},
        {0, "connect", 0, "", "down", "connect"},
        {0, "tls", 0, "", "down", "tls"},
        {0, "connection", 0, "", "down", "connection"},
        {0, "body_too_large", 200, "", "wrong_body", "body_too_large"},
        {0, NULL, 0, "", "down", "transport"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char reason[48];
        enum gslb_probe_status st =
            gslb_probe_classify(cases[i].ok, cases[i].transport, cases[i].status, cases[i].body,
                                strlen(cases[i].body), page, reason, sizeof(reason));
        ok(strcmp(gslb_probe_status_name(st), cases[i].want) == 0 &&
               strcmp(reason, cases[i].reason) == 0,
           "probe %s %ld \"%.20s\" is %s (%s): got %s (%s)",
           cases[i].ok          ? "answered"
           : cases[i].transport ? cases[i].transport
                                : "failed",
           cases[i].status, cases[i].body, cases[i].want, cases[i].reason,
           gslb_probe_status_name(st), reason);
    }
    char reason[48];
    ok(gslb_probe_classify(true, NULL, 200, "OK", 2, "OK", reason, sizeof(reason)) == GSLB_PROBE_UP,
       "a configured expect_body is what counts");
    is_int(gslb_probe_status_parse("wrong_body", 10), GSLB_PROBE_WRONG_BODY,
           "probe status names parse back");
}

static void test_streak(void)
{
    struct gslb_streak s;
    gslb_streak_init(&s);
    ok(!gslb_streak_add(&s, GSLB_CLASS_GOLD, 100) && s.held == 1 && s.changes == 0 &&
           s.since == 100,
       "the first sample is not a change");
    gslb_streak_add(&s, GSLB_CLASS_GOLD, 105);
    gslb_streak_add(&s, GSLB_CLASS_GOLD, 110);
    ok(s.held == 3 && s.since == 100, "held counts consecutive samples");
    ok(gslb_streak_add(&s, GSLB_CLASS_ERROR, 115) && s.held == 1 && s.changes == 1 &&
           s.since == 115,
       "a new class restarts held and counts a change");
    ok(gslb_streak_add(&s, GSLB_CLASS_GOLD, 120) && s.changes == 2, "and back again");
}

/* ---- DNS replies ---- */

struct pkt {
    unsigned char b[2048];
    int n;
};

static void put16(struct pkt *p, unsigned v)
{
    p->b[p->n++] = (unsigned char)(v >> 8);
    p->b[p->n++] = (unsigned char)v;
}

static void put32(struct pkt *p, unsigned v)
{
    put16(p, v >> 16);
    put16(p, v & 0xffff);
}

static void put_name(struct pkt *p, const char *name)
{
    while (*name) {
        size_t l = strcspn(name, ".");
        p->b[p->n++] = (unsigned char)l;
        memcpy(p->b + p->n, name, l);
        p->n += (int)l;
        name += l + (name[l] == '.');
    }
    p->b[p->n++] = 0;
}

/* A reply to "name A": header, the question, then the records given. */
static void reply_start(struct pkt *p, const char *name, unsigned ancount)
{
    p->n = 0;
    put16(p, 0x1234);
    put16(p, 0x8180);
    put16(p, 1);
    put16(p, ancount);
    put16(p, 0);
    put16(p, 0);
    put_name(p, name);
    put16(p, 1);
    put16(p, 1);
}

static void add_a(struct pkt *p, const char *owner_or_ptr, const char *addr, unsigned ttl)
{
    if (owner_or_ptr)
        put_name(p, owner_or_ptr);
    else
        put16(p, 0xc00c); /* the question's name */
    put16(p, 1);
    put16(p, 1);
    put32(p, ttl);
    put16(p, 4);
    struct in_addr a = ip(addr);
    memcpy(p->b + p->n, &a, 4);
    p->n += 4;
}

static void add_cname(struct pkt *p, const char *target, unsigned ttl)
{
    put16(p, 0xc00c);
    put16(p, 5);
    put16(p, 1);
    put32(p, ttl);
    struct pkt t = {.n = 0};
    put_name(&t, target);
    put16(p, (unsigned)t.n);
    memcpy(p->b + p->n, t.b, (size_t)t.n);
    p->n += t.n;
}

static void test_dns_parse(void)
{
    struct pkt p;
    struct dns_answer a;
    reply_start(&p, "ggw.glb.test", 2);
    add_a(&p, NULL, "142.34.229.4", 30);
    add_a(&p, NULL, "142.34.64.4", 60);
    dns_answer_parse(ARES_SUCCESS, p.b, p.n, &a);
    ok(strcmp(a.status, "ok") == 0 && a.naddrs == 2 &&
           a.addrs[0].s_addr == ip("142.34.229.4").s_addr && a.ttls[0] == 30 && a.ttls[1] == 60,
       "two A records with their TTLs");

    reply_start(&p, "api.test", 2);
    add_cname(&p, "ggw.glb.test", 300);
    add_a(&p, "ggw.glb.test", "142.34.64.4", 30);
    dns_answer_parse(ARES_SUCCESS, p.b, p.n, &a);
    ok(strcmp(a.status, "ok") == 0 && a.naddrs == 1 && a.ttls[0] == 30,
       "a CNAME chain is followed to its A record (%s, %zu)", a.status, a.naddrs);

    reply_start(&p, "api.test", 1);
    add_cname(&p, "ggw.glb.test", 300);
    dns_answer_parse(ARES_SUCCESS, p.b, p.n, &a);
    ok(strcmp(a.status, "nodata") == 0 && a.naddrs == 0,
       "a CNAME to nothing is an empty answer (nodata): %s", a.status);

    reply_start(&p, "ggw.glb.test", 0);
    dns_answer_parse(ARES_SUCCESS, p.b, p.n, &a);
    is_str(a.status, "nodata", "NOERROR without records is nodata");

    reply_start(&p, "ggw.glb.test", 3);
    add_a(&p, NULL, "142.34.229.4", 30);
    dns_answer_parse(ARES_SUCCESS, p.b, p.n, &a);
    is_str(a.status, "error", "a reply announcing more records than it has is an error");

    dns_answer_parse(ARES_SUCCESS, (const unsigned char *)"\x01\x02", 2, &a);
    is_str(a.status, "error", "garbage is an error");
    dns_answer_parse(ARES_ESERVFAIL, NULL, 0, &a);
    is_str(a.status, "servfail", "c-ares' SERVFAIL is servfail");
    dns_answer_parse(ARES_ENOTFOUND, NULL, 0, &a);
    is_str(a.status, "nxdomain", "c-ares' ENOTFOUND is nxdomain");
    dns_answer_parse(ARES_ETIMEOUT, NULL, 0, &a);
    is_str(a.status, "timeout", "c-ares' ETIMEOUT is timeout");

    reply_start(&p, "many.test", 40);
    for (int i = 0; i < 40; i++) {
        char addr[32];
        snprintf(addr, sizeof(addr), "10.0.0.%d", i + 1);
        add_a(&p, NULL, addr, 5);
    }
    dns_answer_parse(ARES_SUCCESS, p.b, p.n, &a);
    ok(strcmp(a.status, "ok") == 0 && a.naddrs == DNS_MAX_ADDRS,
       "an answer with 40 records keeps the first %d", DNS_MAX_ADDRS);
}

int main(void)
{
    test_answers();
    test_probes();
    test_streak();
    test_dns_parse();
    return done_testing();
}
