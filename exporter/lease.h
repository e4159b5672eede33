/* lease.h: leader election's pure part, on a `coordination.k8s.io/v1` Lease, as client-go's
 * leaderelection package decides it:
 *   - the Lease absent: create it, holding it;
 *   - holderIdentity is me: renew (update with the resourceVersion read; a 409 means another
 *     replica wrote in between: read again);
 *   - another holder whose record this replica saw change less than leaseDurationSeconds ago
 *     (by this replica's monotonic clock, from when it saw the change, never by comparing the
 *     holder's renewTime with this machine's wall clock): wait;
 *   - otherwise (expired, or released: holderIdentity empty): take it over, leaseTransitions + 1.
 * A leader that has not renewed successfully within the renew deadline (counted from when its
 * last successful update was sent) stops acting: renew_deadline < lease_duration makes it stop
 * before any other replica can see the lease expire.
 *
 * acquireTime and renewTime are MicroTime: RFC 3339 in UTC with exactly six fraction digits
 * ("2026-12-07T21:15:00.123456Z"), as the apiserver writes them. */
#ifndef DRWATCH_LEASE_H
#define DRWATCH_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xalloc.h"

/* A pod name is a DNS subdomain (253); an identity longer than this is refused. */
#define LEASE_HOLDER_MAX 253

/* The Lease's spec (the LeaderElectionRecord) and its version. */
struct lease_record {
    char holder[LEASE_HOLDER_MAX + 1]; /* holderIdentity, "" when released or absent */
    int64_t duration_s;                /* leaseDurationSeconds, 0 when absent */
    double acquire_time, renew_time;   /* Unix seconds, 0 when absent */
    int64_t transitions;               /* leaseTransitions */
    char resource_version[64];         /* metadata.resourceVersion */
};

/* What this replica has seen of the Lease: the last record and when (monotonic ms) it was
 * first seen as it is. */
struct lease_observation {
    bool present; /* a Lease was read; false: it was absent (404) or nothing was read yet */
    struct lease_record rec;
    int64_t observed_ms;
};

enum lease_action {
    LEASE_CREATE, /* no Lease: POST one holding it */
    LEASE_RENEW,  /* I hold it: PUT with renewTime now */
    LEASE_TAKE,   /* expired or released: PUT with me as holder, transitions + 1 */
    LEASE_WAIT,   /* another replica holds it */
};

/* "2026-12-07T21:15:00.123456Z" from Unix seconds t into out (at least 28 bytes). Returns 0,
 * or -EINVAL for a time before 1970 or after 9999 or a short out. */
DRW_MUST_CHECK int lease_microtime_format(double t, char *out, size_t outlen);
/* Parses an RFC 3339 time (MicroTime, or any fraction length, Z or an offset). Returns 0, or
 * -EINVAL. */
DRW_MUST_CHECK int lease_microtime_parse(const char *s, double *out);

/* Reads a Lease object's body into out. Returns 0, or -EINVAL with err filled: not JSON, not a
 * Lease, a field of the wrong type, a time that is not RFC 3339, a holder over
 * LEASE_HOLDER_MAX. */
DRW_MUST_CHECK int lease_record_parse(const char *body, size_t len, struct lease_record *out,
                                      char *err, size_t errlen);
/* The Lease object to POST (r->resource_version "") or PUT (the version read) as JSON;
 * malloc'd, the caller frees. */
char *lease_record_json(const char *ns, const char *name, const struct lease_record *r);

/* Records what a read gave at now_ms (rec NULL: the Lease is absent). observed_ms moves only
 * when the record differs from the one seen before (holder, duration, times, transitions). */
void lease_observe(struct lease_observation *o, const struct lease_record *rec, int64_t now_ms);
/* What to do, given what has been seen, at now_ms, for identity me. */
enum lease_action lease_decide(const struct lease_observation *o, const char *me, int64_t now_ms);
/* The record to write for a (CREATE, RENEW or TAKE) at wall time now_s: holder me, the given
 * duration, renewTime now; acquireTime and transitions kept on a renew, now and + 1 on a
 * take-over (0 on a create). The resourceVersion is the one seen. */
void lease_next(const struct lease_observation *o, enum lease_action a, const char *me,
                int64_t duration_s, double now_s, struct lease_record *out);
/* The record a clean stop writes (client-go's ReleaseOnCancel): no holder, leaseDurationSeconds
 * 1, both times now, transitions kept, on the version last seen. */
void lease_release(const struct lease_observation *o, double now_s, struct lease_record *out);
/* Whether a leader whose last successful renew was sent at renewed_ms must stop acting at
 * now_ms. */
bool lease_must_stop(int64_t renewed_ms, int64_t renew_deadline_ms, int64_t now_ms);
const char *lease_action_name(enum lease_action a); /* "create", "renew", "take", "wait" */

#endif
