/* lease.c: see lease.h. Pure: no clock is read here (the caller passes its readings), no I/O;
 * jansson for the Lease's JSON, timeparse for RFC 3339. */
#include "lease.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "timeparse.h"

int lease_microtime_format(double t, char *out, size_t outlen)
{
    if (!(t >= 0 && t < 253402300800.0) || outlen < 28) return -EINVAL; /* 10000-01-01 */
    double whole = floor(t);
    long us = lround((t - whole) * 1e6);
    time_t s = (time_t)whole;
    if (us >= 1000000) { /* rounding carried into the next second */
        us -= 1000000;
        s++;
    }
    struct tm tm;
    if (!gmtime_r(&s, &tm)) return -EINVAL;
    int n = snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, us);
    return n > 0 && (size_t)n < outlen ? 0 : -EINVAL;
}

int lease_microtime_parse(const char *s, double *out)
{
    /* RFC 3339 only: timeparse also takes a space for 'T' and "UTC" (other upstreams). */
    size_t n = s ? strlen(s) : 0;
    if (n < 20 || s[10] != 'T' || strchr(s, ' ')) return -EINVAL;
    return timeparse_iso(s, n, 0, out);
}

static int time_field(json_t *spec, const char *key, double *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(spec, key);
    *out = 0;
    if (!v || json_is_null(v)) return 0;
    if (json_is_string(v) && lease_microtime_parse(json_string_value(v), out) == 0) return 0;
    snprintf(err, errlen, "spec.%s is not an RFC 3339 time", key);
    return -EINVAL;
}

static int int_field(json_t *spec, const char *key, int64_t *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(spec, key);
    *out = 0;
    if (!v || json_is_null(v)) return 0;
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = json_integer_value(v);
        return 0;
    }
    snprintf(err, errlen, "spec.%s is not a whole number of 0 or more", key);
    return -EINVAL;
}

static int parse_spec(json_t *spec, struct lease_record *out, char *err, size_t errlen)
{
    json_t *h = json_object_get(spec, "holderIdentity");
    if (h && !json_is_null(h)) {
        if (!json_is_string(h) || json_string_length(h) > LEASE_HOLDER_MAX) {
            snprintf(err, errlen, "spec.holderIdentity is not a string of at most %d bytes",
                     LEASE_HOLDER_MAX);
            return -EINVAL;
        }
        memcpy(out->holder, json_string_value(h), json_string_length(h) + 1);
    }
    if (int_field(spec, "leaseDurationSeconds", &out->duration_s, err, errlen) < 0 ||
        int_field(spec, "leaseTransitions", &out->transitions, err, errlen) < 0 ||
        time_field(spec, "acquireTime", &out->acquire_time, err, errlen) < 0 ||
        time_field(spec, "renewTime", &out->renew_time, err, errlen) < 0)
        return -EINVAL;
    return 0;
}

int lease_record_parse(const char *body, size_t len, struct lease_record *out, char *err,
                       size_t errlen)
{
    memset(out, 0, sizeof(*out));
    json_error_t je;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    int rc = -EINVAL;
    json_t *kind = json_object_get(root, "kind");
    json_t *rv = json_object_get(json_object_get(root, "metadata"), "resourceVersion");
    json_t *spec = json_object_get(root, "spec");
    if (!root) {
        snprintf(err, errlen, "not JSON: %s", je.text);
    } else if (!json_is_object(root) ||
               (kind && (!json_is_string(kind) || strcmp(json_string_value(kind), "Lease") != 0))) {
        snprintf(err, errlen, "not a Lease");
    } else if (!json_is_string(rv) || json_string_length(rv) >= sizeof(out->resource_version)) {
        snprintf(err, errlen, "no metadata.resourceVersion");
    } else if (spec && !json_is_object(spec)) {
        snprintf(err, errlen, "spec is not an object");
    } else {
        memcpy(out->resource_version, json_string_value(rv), json_string_length(rv) + 1);
        rc = spec ? parse_spec(spec, out, err, errlen) : 0;
    }
    json_decref(root);
    return rc;
}

/* A MicroTime, or JSON null when t is 0 (absent) or out of range. */
static json_t *microtime_json(double t)
{
    char s[40];
    return t > 0 && lease_microtime_format(t, s, sizeof(s)) == 0 ? json_string(s) : json_null();
}

char *lease_record_json(const char *ns, const char *name, const struct lease_record *r)
{
    json_t *md = json_pack("{s:s, s:s}", "name", name, "namespace", ns);
    if (r->resource_version[0])
        json_object_set_new(md, "resourceVersion", json_string(r->resource_version));
    json_t *spec = json_pack(
        "{s:s, s:I, s:o, s:o, s:I}", "holderIdentity", r->holder, "leaseDurationSeconds",
        (json_int_t)r->duration_s, "acquireTime", microtime_json(r->acquire_time), "renewTime",
        microtime_json(r->renew_time), "leaseTransitions", (json_int_t)r->transitions);
    json_t *root = json_pack("{s:s, s:s, s:o, s:o}", "apiVersion", "coordination.k8s.io/v1", "kind",
                             "Lease", "metadata", md, "spec", spec);
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return text;
}

static bool same_record(const struct lease_record *a, const struct lease_record *b)
{
    return strcmp(a->holder, b->holder) == 0 && a->duration_s == b->duration_s &&
           a->acquire_time == b->acquire_time && a->renew_time == b->renew_time &&
           a->transitions == b->transitions;
}

void lease_observe(struct lease_observation *o, const struct lease_record *rec, int64_t now_ms)
{
    if (!rec) {
        o->present = false;
        o->observed_ms = now_ms;
        return;
    }
    bool changed = !o->present || !same_record(&o->rec, rec);
    o->rec = *rec; /* the resourceVersion too: the next update is made on it */
    o->present = true;
    if (changed) o->observed_ms = now_ms;
}

enum lease_action lease_decide(const struct lease_observation *o, const char *me, int64_t now_ms)
{
    if (!o->present) return LEASE_CREATE;
    if (strcmp(o->rec.holder, me) == 0) return LEASE_RENEW;
    /* Held, and seen to change less than its duration ago, by this replica's own clock. */
    if (o->rec.holder[0] && now_ms < o->observed_ms + o->rec.duration_s * 1000) return LEASE_WAIT;
    return LEASE_TAKE;
}

void lease_next(const struct lease_observation *o, enum lease_action a, const char *me,
                int64_t duration_s, double now_s, struct lease_record *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->holder, sizeof(out->holder), "%s", me);
    out->duration_s = duration_s;
    out->renew_time = now_s;
    out->acquire_time = now_s;
    if (!o->present || a == LEASE_CREATE) return;
    snprintf(out->resource_version, sizeof(out->resource_version), "%s", o->rec.resource_version);
    out->transitions = o->rec.transitions;
    if (a == LEASE_RENEW && o->rec.acquire_time > 0)
        out->acquire_time = o->rec.acquire_time;
    else if (a == LEASE_TAKE)
        out->transitions++;
}

void lease_release(const struct lease_observation *o, double now_s, struct lease_record *out)
{
    memset(out, 0, sizeof(*out));
    out->duration_s = 1;
    out->acquire_time = out->renew_time = now_s;
    out->transitions = o->rec.transitions;
    snprintf(out->resource_version, sizeof(out->resource_version), "%s", o->rec.resource_version);
}

bool lease_must_stop(int64_t renewed_ms, int64_t renew_deadline_ms, int64_t now_ms)
{
    return now_ms >= renewed_ms + renew_deadline_ms;
}

const char *lease_action_name(enum lease_action a)
{
    static const char *const names[] = {"create", "renew", "take", "wait"};
    return (unsigned)a < 4 ? names[a] : "?";
}
