/* gslb_class.c: classification of GSLB answers and /health probes, and streaks (see gslb.h).
 *
 * Kept free of I/O so that the tables in tests/unit/test_gslb.c and the fuzz target can drive
 * it directly. */
#include "gslb_class.h"

#include <stdio.h>
#include <string.h>

static const char *const class_names[GSLB_CLASS_COUNT] = {
    [GSLB_CLASS_GOLD] = "gold", [GSLB_CLASS_GOLDDR] = "golddr",   [GSLB_CLASS_BOTH] = "both",
    [GSLB_CLASS_NONE] = "none", [GSLB_CLASS_UNKNOWN] = "unknown", [GSLB_CLASS_ERROR] = "error",
};

static const char *const probe_names[GSLB_PROBE_STATUS_COUNT] = {
    [GSLB_PROBE_UP] = "up",
    [GSLB_PROBE_DOWN] = "down",
    [GSLB_PROBE_WRONG_BODY] = "wrong_body",
};

const char *gslb_class_name(enum gslb_class c)
{
    return (unsigned)c < GSLB_CLASS_COUNT ? class_names[c] : "error";
}

static int find_name(const char *const *names, int n, const char *s, size_t len)
{
    for (int i = 0; i < n; i++)
        if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0) return i;
    return -1;
}

int gslb_class_parse(const char *s, size_t n)
{
    return find_name(class_names, GSLB_CLASS_COUNT, s, n);
}

const char *gslb_probe_status_name(enum gslb_probe_status p)
{
    return (unsigned)p < GSLB_PROBE_STATUS_COUNT ? probe_names[p] : "down";
}

int gslb_probe_status_parse(const char *s, size_t n)
{
    return find_name(probe_names, GSLB_PROBE_STATUS_COUNT, s, n);
}

static bool in_list(const struct in_addr *v, size_t n, struct in_addr a)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].s_addr == a.s_addr) return true;
    return false;
}

const char *gslb_address_site(const struct gslb_sites *s, struct in_addr a)
{
    if (in_list(s->gold, s->ngold, a)) return "gold";
    if (in_list(s->golddr, s->ngolddr, a)) return "golddr";
    return NULL;
}

enum gslb_class gslb_answer_classify(const struct gslb_sites *s, const char *status,
                                     const struct in_addr *addrs, size_t naddrs)
{
    if (!status) return GSLB_CLASS_ERROR;
    if (strcmp(status, "nodata") == 0) return GSLB_CLASS_NONE;
    if (strcmp(status, "ok") != 0) return GSLB_CLASS_ERROR;
    if (naddrs == 0) return GSLB_CLASS_NONE;
    bool gold = false, golddr = false;
    for (size_t i = 0; i < naddrs; i++) {
        const char *site = gslb_address_site(s, addrs[i]);
        if (!site) return GSLB_CLASS_UNKNOWN; /* not evidence for either site */
        if (strcmp(site, "gold") == 0)
            gold = true;
        else
            golddr = true;
    }
    if (gold && golddr) return GSLB_CLASS_BOTH;
    return gold ? GSLB_CLASS_GOLD : GSLB_CLASS_GOLDDR;
}

static bool body_matches(const char *body, size_t len, const char *expect)
{
    while (len && (body[len - 1] == '\n' || body[len - 1] == '\r' || body[len - 1] == ' ' ||
                   body[len - 1] == '\t'))
        len--;
    size_t elen = strlen(expect);
    return len == elen && memcmp(body, expect, len) == 0;
}

enum gslb_probe_status gslb_probe_classify(bool transport_ok, const char *transport_reason,
                                           long status, const char *body, size_t body_len,
                                           const char *expect, char *reason, size_t reasonlen)
{
    if (!transport_ok) {
        const char *r = transport_reason && *transport_reason ? transport_reason : "transport";
        if (strcmp(r, "body_too_large") == 0) {
            snprintf(reason, reasonlen, "body_too_large");
            return GSLB_PROBE_WRONG_BODY;
        }
        snprintf(reason, reasonlen, "%s", r);
        return GSLB_PROBE_DOWN;
    }
    if (status < 200 || status > 299) {
        snprintf(reason, reasonlen, "http_%ld", status);
        return GSLB_PROBE_DOWN;
    }
    if (!body_matches(body ? body : "", body ? body_len : 0, expect ? expect : "")) {
        snprintf(reason, reasonlen, "body_mismatch");
        return GSLB_PROBE_WRONG_BODY;
    }
    snprintf(reason, reasonlen, "ok");
    return GSLB_PROBE_UP;
}

void gslb_streak_init(struct gslb_streak *s)
{
    *s = (struct gslb_streak){.value = -1};
}

bool gslb_streak_add(struct gslb_streak *s, int value, double now)
{
    if (s->value == value && s->held > 0) {
        s->held++;
        return false;
    }
    bool changed = s->held > 0;
    if (changed) s->changes++;
    s->value = value;
    s->held = 1;
    s->since = now;
    return changed;
}
