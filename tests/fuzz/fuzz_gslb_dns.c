/* fuzz_gslb_dns.c: arbitrary bytes as a DNS reply to the GSLB's A query, through the same path
 * a real answer takes: dns_answer_parse (c-ares' parser, CNAMEs followed, TTLs kept) and then
 * gslb_answer_classify. Invariants: at most DNS_MAX_ADDRS addresses, a class in range, and an
 * "ok" status only with addresses or as none. */
#include <ares.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "gslb_class.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct in_addr gold[1] = {{0x04e5228e}}, golddr[1] = {{0x0440228e}};
    struct gslb_sites sites = {gold, 1, golddr, 1};
    struct dns_answer a;
    dns_answer_parse(ARES_SUCCESS, data, (int)(size > INT32_MAX ? INT32_MAX : size), &a);
    if (a.naddrs > DNS_MAX_ADDRS) abort();
    enum gslb_class c = gslb_answer_classify(&sites, a.status, a.addrs, a.naddrs);
    if ((unsigned)c >= GSLB_CLASS_COUNT) abort();
    if (strcmp(a.status, "ok") != 0 && c != GSLB_CLASS_ERROR && c != GSLB_CLASS_NONE) abort();
    return 0;
}
