/* test_dns.c: c-ares on the loop against tests/fakes/dns_fake.py: every A record with its TTL,
 * and each failure told apart (an error is never an empty answer). */
#include <ares.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "dns.h"
#include "fake.h"
#include "loop.h"
#include "tap.h"
#include "xalloc.h"

struct lookup {
    struct loop *loop;
    int *pending;
    char status[16];
    size_t naddrs;
    char addrs[64];
    int ttl0;
};

static void on_answer(void *arg, const struct dns_answer *a)
{
    struct lookup *lk = arg;
    snprintf(lk->status, sizeof(lk->status), "%s", a->status);
    lk->naddrs = a->naddrs;
    size_t n = 0;
    for (size_t i = 0; i < a->naddrs; i++)
        n += (size_t)snprintf(lk->addrs + n, sizeof(lk->addrs) - n, "%s%s", i ? "," : "",
                              inet_ntoa(a->addrs[i]));
    lk->ttl0 = a->naddrs ? a->ttls[0] : -1;
    if (--*lk->pending == 0) loop_stop(lk->loop);
}

/* Without servers, the system's: what /etc/resolv.conf names (the gslb collector's default). */
static void test_system_resolver(struct loop *l)
{
    char line[256], addr[128], want[160], err[256], got[512];
    struct dns *d = dns_new(l, &(struct dns_opts){0}, err, sizeof(err));
    ok(d != NULL, "no servers: the system resolver");
    dns_servers(d, got, sizeof(got));
    FILE *f = fopen("/etc/resolv.conf", "r");
    int named = 0, found = 0;
    while (f && fgets(line, sizeof(line), f)) {
        if (sscanf(line, " nameserver %127s", addr) != 1 || !strchr(addr, '.')) continue;
        snprintf(want, sizeof(want), "%s:53", addr);
        named++;
        found += strstr(got, want) != NULL;
    }
    if (f) fclose(f);
    if (named)
        ok(found == named, "dns_servers (%s) names every IPv4 nameserver of /etc/resolv.conf", got);
    else
        ok(got[0] != '\0', "dns_servers names c-ares' default without resolv.conf: %s", got);
    dns_free(d);
}

int main(void)
{
    ares_library_init(ARES_LIB_INIT_ALL);
    int port = fake_free_port();
    pid_t fake = fake_start("dns_fake.py", port);
    if (!ok(fake > 0, "dns fake started on port %d", port)) return done_testing();
    struct loop *l = loop_new();
    char servers[64], err[128];
    snprintf(servers, sizeof(servers), "127.0.0.1:%d", port);
    struct dns *d = dns_new(
        l, &(struct dns_opts){.servers = servers, .timeout_ms = 300, .tries = 1}, err, sizeof(err));
    ok(d != NULL, "resolver created for %s", servers);
    static const struct {
        const char *name, *status, *addrs;
        int ttl;
    } cases[] = {
        {"gslb.a1.test", "ok", "10.0.0.1", 30}, {"gslb.a2.test", "ok", "10.0.0.1,10.0.0.2", 30},
        {"nodata.test", "nodata", "", -1},      {"nx.test", "nxdomain", "", -1},
        {"servfail.test", "servfail", "", -1},  {"refused.test", "refused", "", -1},
        {"timeout.test", "timeout", "", -1},
    };
    int pending = (int)ARRAY_LEN(cases);
    struct lookup lk[ARRAY_LEN(cases)];
    int64_t t0 = time_mono_ms();
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        lk[i] = (struct lookup){.loop = l, .pending = &pending};
        dns_query_a(d, cases[i].name, on_answer, &lk[i]);
    }
    loop_run(l);
    int64_t took = time_mono_ms() - t0;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        ok(strcmp(lk[i].status, cases[i].status) == 0 && strcmp(lk[i].addrs, cases[i].addrs) == 0 &&
               lk[i].ttl0 == cases[i].ttl,
           "%s: %s [%s] ttl %d", cases[i].name, lk[i].status, lk[i].addrs, lk[i].ttl0);
    }
    ok(took < 2000, "all lookups ran concurrently, the timeout one bounded (%lld ms)",
       (long long)took);
    char servers_text[128];
    dns_servers(d, servers_text, sizeof(servers_text));
    is_str(servers_text, servers, "dns_servers names the server asked");

    /* dns_cancel drops a pending query without its callback; the resolver stays usable. */
    struct lookup dropped = {.loop = l, .pending = &pending};
    pending = 1;
    dns_query_a(d, "timeout.test", on_answer, &dropped);
    dns_cancel(d);
    struct lookup after = {.loop = l, .pending = &pending};
    dns_query_a(d, "gslb.a1.test", on_answer, &after);
    loop_run(l);
    ok(dropped.status[0] == '\0' && strcmp(after.status, "ok") == 0,
       "a cancelled query never calls back, and the next one is answered (%s)", after.status);
    dns_free(d);
    ok(dns_new(l, &(struct dns_opts){.servers = "not an address"}, err, sizeof(err)) == NULL &&
           strstr(err, "c-ares") != NULL,
       "a bad server list is refused: %s", err);
    test_system_resolver(l);
    loop_free(l);
    fake_stop(fake);
    ares_library_cleanup();
    return done_testing();
}
