/* test_lease.c: leader election's pure part (exporter/lease.h): MicroTime text both ways, the
 * Lease's JSON both ways, and the decision client-go's leaderelection makes: create when
 * absent, renew my own, wait while another's record was seen to change within its duration
 * (by the local clock, whatever its renewTime says), take over an expired or released one
 * with leaseTransitions + 1, and stop acting once no renew succeeded within the deadline. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lease.h"
#include "tap.h"

static void test_microtime(void)
{
    char s[40];
    double t;
    must(lease_microtime_format(1796678100.123456, s, sizeof(s)));
    is_str(s, "2026-12-07T21:15:00.123456Z", "MicroTime: six fraction digits, UTC, Z");
    must(lease_microtime_format(0, s, sizeof(s)));
    is_str(s, "1970-01-01T00:00:00.000000Z", "the epoch");
    must(lease_microtime_format(1796678100.9999996, s, sizeof(s)));
    is_str(s, "2026-12-07T21:15:01.000000Z", "rounding carries into the next second");
    ok(lease_microtime_format(-1, s, sizeof(s)) < 0, "a time before 1970 is refused");
    ok(lease_microtime_format(1.0, s, 20) < 0, "a short buffer is refused");
    ok(lease_microtime_parse("2026-12-07T21:15:00.123456Z", &t) == 0 &&
           fabs(t - 1796678100.123456) < 1e-6,
       "parses MicroTime back to the microsecond");
    ok(lease_microtime_parse("2026-12-07T22:15:00+01:00", &t) == 0 && t == 1796678100.0,
       "an offset and no fraction (RFC 3339)");
    ok(lease_microtime_parse("2026-12-07 21:15:00Z", &t) < 0, "a space for T is not RFC 3339");
    ok(lease_microtime_parse("2026-12-07T21:15:00", &t) < 0, "no zone is refused");
    ok(lease_microtime_parse("2026-02-30T21:15:00Z", &t) < 0, "an impossible date is refused");
    ok(lease_microtime_parse("", &t) < 0 && lease_microtime_parse(NULL, &t) < 0, "empty, NULL");
}

static const char *LEASE_JSON =
    "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"metadata\":{\"name\":"
    "\"drwatch\",\"namespace\":\"ops\",\"resourceVersion\":\"42\"},\"spec\":{\"holderIdentity\":"
    "\"pod-a\",\"leaseDurationSeconds\":15,\"acquireTime\":\"2026-12-07T21:15:00.000000Z\","
    "\"renewTime\":\"2026-12-07T21:15:10.500000Z\",\"leaseTransitions\":3}}";

static void test_json(void)
{
    struct lease_record r, back;
    char err[200];
    must(lease_record_parse(LEASE_JSON, strlen(LEASE_JSON), &r, err, sizeof(err)));
    ok(strcmp(r.holder, "pod-a") == 0 && r.duration_s == 15 && r.transitions == 3 &&
           strcmp(r.resource_version, "42") == 0 && r.acquire_time == 1796678100.0 &&
           r.renew_time == 1796678110.5,
       "a Lease's spec and resourceVersion are read");
    char *text = lease_record_json("ops", "drwatch", &r);
    must(lease_record_parse(text, strlen(text), &back, err, sizeof(err)));
    ok(memcmp(&r, &back, sizeof(r)) == 0, "written and read back, it is the same record");
    ok(strstr(text, "\"renewTime\":\"2026-12-07T21:15:10.500000Z\"") &&
           strstr(text, "\"resourceVersion\":\"42\"") && strstr(text, "\"kind\":\"Lease\""),
       "the body carries MicroTimes and the version read: %s", text);
    free(text);
    const char *empty = "{\"kind\":\"Lease\",\"metadata\":{\"resourceVersion\":\"1\"},\"spec\":{}}";
    ok(lease_record_parse(empty, strlen(empty), &r, err, sizeof(err)) == 0 && !r.holder[0] &&
           r.renew_time == 0,
       "an empty spec: no holder, no times");
    struct {
        const char *body, *why;
    } bad[] = {
        {"nope", "not JSON"},
        {"{\"kind\":\"ConfigMap\",\"metadata\":{\"resourceVersion\":\"1\"}}", "not a Lease"},
        {"{\"kind\":\"Lease\",\"metadata\":{}}", "no metadata.resourceVersion"},
        {"{\"kind\":\"Lease\",\"metadata\":{\"resourceVersion\":\"1\"},\"spec\":{\"renewTime\":"
         "\"yesterday\"}}",
         "spec.renewTime is not an RFC 3339 time"},
        {"{\"kind\":\"Lease\",\"metadata\":{\"resourceVersion\":\"1\"},\"spec\":"
         "{\"leaseDurationSeconds\":-1}}",
         "spec.leaseDurationSeconds is not a whole number"},
        {"{\"kind\":\"Lease\",\"metadata\":{\"resourceVersion\":\"1\"},\"spec\":"
         "{\"holderIdentity\":7}}",
         "spec.holderIdentity is not a string"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ok(lease_record_parse(bad[i].body, strlen(bad[i].body), &r, err, sizeof(err)) < 0 &&
               strstr(err, bad[i].why),
           "refused: %s (%s)", bad[i].why, err);
}

static struct lease_record held(const char *holder, const char *rv)
{
    struct lease_record r = {.duration_s = 15, .acquire_time = 100, .renew_time = 110};
    strcpy(r.holder, holder);
    strcpy(r.resource_version, rv);
    r.transitions = 2;
    return r;
}

static void test_decide(void)
{
    struct lease_observation o = {0};
    is_int(lease_decide(&o, "me", 0), LEASE_CREATE, "nothing read yet: create");
    lease_observe(&o, NULL, 1000);
    is_int(lease_decide(&o, "me", 1000), LEASE_CREATE, "absent (404): create");
    struct lease_record r = held("other", "5");
    lease_observe(&o, &r, 2000);
    is_int(o.observed_ms, 2000, "a first record is observed now");
    is_int(lease_decide(&o, "me", 2000), LEASE_WAIT, "another holds it: wait");
    lease_observe(&o, &r, 16000);
    is_int(o.observed_ms, 2000, "the same record read again does not move the observation");
    is_int(lease_decide(&o, "me", 16999), LEASE_WAIT, "held until 15 s after it was seen");
    is_int(lease_decide(&o, "me", 17000), LEASE_TAKE, "expired by the local clock: take over");
    r.renew_time = 120;
    strcpy(r.resource_version, "6");
    lease_observe(&o, &r, 17000);
    is_int(lease_decide(&o, "me", 17000), LEASE_WAIT, "renewed: seen to change, wait again");
    is_int(lease_decide(&o, "me", 31999), LEASE_WAIT, "15 s from the new observation");
    /* renewTime far in the past by the wall clock changes nothing: only observations count. */
    struct lease_record stale = held("other", "7");
    stale.renew_time = 1;
    lease_observe(&o, &stale, 40000);
    is_int(lease_decide(&o, "me", 40000), LEASE_WAIT,
           "an old renewTime is not trusted: a change was just seen");
    struct lease_record mine = held("me", "8");
    lease_observe(&o, &mine, 41000);
    is_int(lease_decide(&o, "me", 41000), LEASE_RENEW, "mine: renew");
    struct lease_record released = held("", "9");
    released.duration_s = 1;
    lease_observe(&o, &released, 42000);
    is_int(lease_decide(&o, "me", 42000), LEASE_TAKE, "released (no holder): take at once");
}

static void test_next(void)
{
    struct lease_observation o = {0};
    struct lease_record r = held("other", "5"), n;
    lease_observe(&o, &r, 0);
    lease_next(&o, LEASE_TAKE, "me", 15, 500.25, &n);
    ok(strcmp(n.holder, "me") == 0 && n.transitions == 3 && n.acquire_time == 500.25 &&
           n.renew_time == 500.25 && strcmp(n.resource_version, "5") == 0 && n.duration_s == 15,
       "take over: me, transitions + 1, acquired now, on the version read");
    struct lease_record m = held("me", "6");
    lease_observe(&o, &m, 0);
    lease_next(&o, LEASE_RENEW, "me", 15, 600, &n);
    ok(n.transitions == 2 && n.acquire_time == 100 && n.renew_time == 600 &&
           strcmp(n.resource_version, "6") == 0,
       "renew: acquireTime and transitions kept, renewTime now");
    lease_observe(&o, NULL, 0);
    lease_next(&o, LEASE_CREATE, "me", 15, 700, &n);
    ok(n.transitions == 0 && !n.resource_version[0] && n.acquire_time == 700,
       "create: no version, transitions 0");
    lease_observe(&o, &m, 0);
    lease_release(&o, 800, &n);
    ok(!n.holder[0] && n.duration_s == 1 && n.transitions == 2 && n.renew_time == 800 &&
           strcmp(n.resource_version, "6") == 0,
       "release: no holder, duration 1, transitions kept, on the version held");
    ok(!lease_must_stop(1000, 10000, 10999), "renewed 9.999 s ago: still acting");
    ok(lease_must_stop(1000, 10000, 11000), "10 s without a renew: stop acting");
    is_str(lease_action_name(LEASE_TAKE), "take", "action names");
}

int main(void)
{
    test_microtime();
    test_json();
    test_decide();
    test_next();
    return done_testing();
}
