/* silence.c: the silence set (see silence.h): matching, the API's create/update/expire with
 * Alertmanager's validation, and the JSON file that keeps the set over restarts. JSON through
 * jansson; times through timeparse (RFC 3339 in) and am_time_format (Go's text out). */
#include "silence.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "alert.h"
#include "buf.h"
#include "caps.h"
#include "clock.h"
#include "durable.h"
#include "fileio.h"
#include "hash.h"
#include "timeparse.h"
#include "xalloc.h"

#define MAX_MATCHERS 64
#define MAX_TEXT     4096 /* createdBy, comment */

struct silences {
    char *path;
    struct silence **v;
    size_t n;
};

static void silence_free(struct silence *sil)
{
    if (!sil) return;
    am_matchers_free(&sil->m);
    free(sil->created_by);
    free(sil->comment);
    free(sil);
}

struct silences *silences_new(const char *path)
{
    struct silences *s = xcalloc(1, sizeof(*s));
    s->path = xstrdup(path);
    return s;
}

void silences_free(struct silences *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) silence_free(s->v[i]);
    free(s->v);
    free(s->path);
    free(s);
}

static void add_silence(struct silences *s, struct silence *sil)
{
    s->v = xrealloc(s->v, (s->n + 1) * sizeof(*s->v));
    s->v[s->n++] = sil;
}

static struct silence *find(const struct silences *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i]->id, id) == 0) return s->v[i];
    return NULL;
}

static void new_id(char out[40])
{
    unsigned char b[16];
    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
        uint64_t h1 = hash_bytes(out, 40, (uint64_t)time_mono_ms());
        uint64_t h2 = hash_bytes(&h1, sizeof(h1), (uint64_t)(time_wall_s() * 1e6));
        memcpy(b, &h1, 8);
        memcpy(b + 8, &h2, 8);
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    size_t n = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[n++] = '-';
        n += (size_t)snprintf(out + n, 40 - n, "%02x", b[i]);
    }
}

enum silence_state silence_state_at(const struct silence *sil, double now)
{
    if (now >= sil->ends_at) return SILENCE_EXPIRED;
    if (now < sil->starts_at) return SILENCE_PENDING;
    return SILENCE_ACTIVE;
}

const char *silence_state_name(enum silence_state st)
{
    switch (st) {
    case SILENCE_PENDING: return "pending";
    case SILENCE_ACTIVE: return "active";
    case SILENCE_EXPIRED: break;
    }
    return "expired";
}

bool silences_mutes(const struct silences *s, const char *labels, double now)
{
    for (size_t i = 0; i < s->n; i++)
        if (silence_state_at(s->v[i], now) == SILENCE_ACTIVE &&
            am_matchers_match(&s->v[i]->m, labels))
            return true;
    return false;
}

size_t silences_count(const struct silences *s, enum silence_state st, double now)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++) n += silence_state_at(s->v[i], now) == st;
    return n;
}

double silences_next_change(const struct silences *s, double now)
{
    double next = INFINITY;
    for (size_t i = 0; i < s->n; i++) {
        if (s->v[i]->starts_at > now && s->v[i]->starts_at < next) next = s->v[i]->starts_at;
        if (s->v[i]->ends_at > now && s->v[i]->ends_at < next) next = s->v[i]->ends_at;
    }
    return next;
}

size_t silences_gc(struct silences *s, double now)
{
    size_t kept = 0, dropped = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (s->v[i]->ends_at + SILENCE_RETENTION < now) {
            silence_free(s->v[i]);
            dropped++;
        } else {
            s->v[kept++] = s->v[i];
        }
    }
    s->n = kept;
    return dropped;
}

/* ---- JSON ---- */

static json_t *time_json(double t)
{
    char text[AM_TIME_LEN];
    am_time_format(t, text);
    return json_string(text);
}

static json_t *silence_json(const struct silence *sil, double now)
{
    json_t *ms = json_array();
    for (size_t i = 0; i < sil->m.n; i++) {
        const struct am_matcher *m = &sil->m.v[i];
        json_array_append_new(ms,
                              json_pack("{s:s,s:s,s:b,s:b}", "name", m->name, "value", m->value,
                                        "isRegex", m->op == AM_MATCH_RE || m->op == AM_MATCH_NRE,
                                        "isEqual", m->op == AM_MATCH_EQ || m->op == AM_MATCH_RE));
    }
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(sil->id));
    json_object_set_new(
        o, "status", json_pack("{s:s}", "state", silence_state_name(silence_state_at(sil, now))));
    json_object_set_new(o, "updatedAt", time_json(sil->updated_at));
    json_object_set_new(o, "matchers", ms);
    json_object_set_new(o, "startsAt", time_json(sil->starts_at));
    json_object_set_new(o, "endsAt", time_json(sil->ends_at));
    json_object_set_new(o, "createdBy", json_string(sil->created_by));
    json_object_set_new(o, "comment", json_string(sil->comment));
    return o;
}

/* Active first (soonest end first), then pending (soonest start), then expired (latest end). */
static int list_order(const void *pa, const void *pb, void *arg)
{
    const struct silence *a = *(const struct silence *const *)pa;
    const struct silence *b = *(const struct silence *const *)pb;
    double now = *(const double *)arg;
    enum silence_state sa = silence_state_at(a, now), sb = silence_state_at(b, now);
    static const int rank[] = {[SILENCE_ACTIVE] = 0, [SILENCE_PENDING] = 1, [SILENCE_EXPIRED] = 2};
    if (sa != sb) return rank[sa] - rank[sb];
    double ka = sa == SILENCE_PENDING ? a->starts_at : a->ends_at;
    double kb = sb == SILENCE_PENDING ? b->starts_at : b->ends_at;
    if (sa == SILENCE_EXPIRED) ka = -ka, kb = -kb;
    return ka < kb ? -1 : ka > kb ? 1 : strcmp(a->id, b->id);
}

void silences_list_json(const struct silences *s, double now, struct buf *out)
{
    const struct silence **sorted = xmalloc((s->n ? s->n : 1) * sizeof(*sorted));
    if (s->n) memcpy(sorted, s->v, s->n * sizeof(*sorted));
    qsort_r(sorted, s->n, sizeof(*sorted), list_order, &now);
    json_t *arr = json_array();
    for (size_t i = 0; i < s->n; i++) json_array_append_new(arr, silence_json(sorted[i], now));
    free(sorted);
    char *text = json_dumps(arr, JSON_COMPACT);
    buf_puts(out, text);
    free(text);
    json_decref(arr);
}

/* ---- reading a silence ---- */

static int bad(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bad(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static int parse_matchers(json_t *arr, struct am_matchers *m, char *err, size_t errlen)
{
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return bad(err, errlen,
                   "matchers: expected a non-empty list of {name, value, isRegex, "
                   "isEqual}");
    if (json_array_size(arr) > MAX_MATCHERS)
        return bad(err, errlen, "matchers: more than %d", MAX_MATCHERS);
    size_t i;
    json_t *it;
    bool any_nonempty = false;
    json_array_foreach(arr, i, it)
    {
        json_t *name = json_object_get(it, "name"), *value = json_object_get(it, "value");
        json_t *re = json_object_get(it, "isRegex"), *eq = json_object_get(it, "isEqual");
        if (!json_is_string(name) || !json_is_string(value) || (re && !json_is_boolean(re)) ||
            (eq && !json_is_boolean(eq)))
            return bad(err, errlen,
                       "matchers[%zu]: expected {\"name\": string, \"value\": string, "
                       "\"isRegex\": bool, \"isEqual\": bool}",
                       i);
        bool is_re = re && json_is_true(re), is_eq = !eq || json_is_true(eq);
        enum am_match_op op =
            is_re ? (is_eq ? AM_MATCH_RE : AM_MATCH_NRE) : (is_eq ? AM_MATCH_EQ : AM_MATCH_NEQ);
        char why[256];
        if (am_matchers_add(m, json_string_value(name), op, json_string_value(value), why,
                            sizeof(why)) < 0)
            return bad(err, errlen, "matchers[%zu]: %s", i, why);
        if (!am_matcher_matches_empty(&m->v[m->n - 1])) any_nonempty = true;
    }
    if (!any_nonempty)
        return bad(err, errlen, "matchers: at least one matcher must not match the empty string");
    return 0;
}

static int parse_time(json_t *o, const char *key, double *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(o, key);
    if (json_is_number(v)) { /* our own file keeps numbers */
        *out = json_number_value(v);
        return 0;
    }
    if (!json_is_string(v) || timeparse_iso(json_string_value(v), json_string_length(v), 0, out))
        return bad(err, errlen, "%s: expected an RFC 3339 time such as \"2024-06-10T09:41:00Z\"",
                   key);
    return 0;
}

static int parse_text(json_t *o, const char *key, char **out, char *err, size_t errlen)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v) || json_string_length(v) == 0)
        return bad(err, errlen, "%s: required, a non-empty string", key);
    if (json_string_length(v) > MAX_TEXT)
        return bad(err, errlen, "%s: longer than %d bytes", key, MAX_TEXT);
    *out = xstrdup(json_string_value(v));
    return 0;
}

/* Reads a silence object (the API's body or one of the saved list). */
static struct silence *parse_silence(json_t *o, char *err, size_t errlen)
{
    struct silence *sil = xcalloc(1, sizeof(*sil));
    if (!json_is_object(o)) {
        bad(err, errlen, "expected a JSON object");
        goto fail;
    }
    json_t *id = json_object_get(o, "id");
    if (id && !json_is_null(id)) {
        if (!json_is_string(id) || json_string_length(id) == 0 ||
            json_string_length(id) >= sizeof(sil->id)) {
            bad(err, errlen, "id: expected a silence id");
            goto fail;
        }
        snprintf(sil->id, sizeof(sil->id), "%s", json_string_value(id));
    }
    if (parse_matchers(json_object_get(o, "matchers"), &sil->m, err, errlen) ||
        parse_time(o, "startsAt", &sil->starts_at, err, errlen) ||
        parse_time(o, "endsAt", &sil->ends_at, err, errlen) ||
        parse_text(o, "createdBy", &sil->created_by, err, errlen) ||
        parse_text(o, "comment", &sil->comment, err, errlen))
        goto fail;
    json_t *up = json_object_get(o, "updatedAt");
    if (json_is_number(up)) sil->updated_at = json_number_value(up);
    if (sil->ends_at < sil->starts_at) {
        bad(err, errlen, "endsAt is before startsAt");
        goto fail;
    }
    return sil;
fail:
    silence_free(sil);
    return NULL;
}

static bool same_matchers(const struct am_matchers *a, const struct am_matchers *b)
{
    if (a->n != b->n) return false;
    for (size_t i = 0; i < a->n; i++)
        if (a->v[i].op != b->v[i].op || strcmp(a->v[i].name, b->v[i].name) != 0 ||
            strcmp(a->v[i].value, b->v[i].value) != 0)
            return false;
    return true;
}

int silences_post(struct silences *s, const char *body, size_t len, double now, char *id_out,
                  char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *o = json_loadb(body, len, 0, &jerr);
    if (!o) return bad(err, errlen, "not JSON: %s (line %d)", jerr.text, jerr.line);
    struct silence *sil = parse_silence(o, err, errlen);
    json_decref(o);
    if (!sil) return -EINVAL;
    int rc = 0;
    if (sil->ends_at <= now) {
        rc = bad(err, errlen, "endsAt is in the past");
        goto done;
    }
    if (sil->starts_at < now) sil->starts_at = now;
    sil->updated_at = now;
    struct silence *old = sil->id[0] ? find(s, sil->id) : NULL;
    if (sil->id[0] && !old) {
        rc = -ENOENT;
        snprintf(err, errlen, "silence %s not found", sil->id);
        goto done;
    }
    if (old) {
        enum silence_state st = silence_state_at(old, now);
        bool in_place =
            st == SILENCE_PENDING ||
            (st == SILENCE_ACTIVE && same_matchers(&old->m, &sil->m) && sil->starts_at <= now);
        if (in_place) {
            if (st == SILENCE_ACTIVE) sil->starts_at = old->starts_at;
            struct silence tmp = *old;
            *old = *sil;
            *sil = tmp; /* the old content is freed below */
            snprintf(id_out, 40, "%s", old->id);
            goto done;
        }
        /* old was found a moment ago and is not expired: only 0 can come back. */
        if (st != SILENCE_EXPIRED) DRW_IGNORE(silences_expire(s, old->id, now));
    }
    if (s->n >= SILENCE_MAX) {
        rc = -ENOSPC;
        snprintf(err, errlen, "too many silences (%d)", SILENCE_MAX);
        goto done;
    }
    new_id(sil->id);
    snprintf(id_out, 40, "%s", sil->id);
    add_silence(s, sil);
    sil = NULL;
done:
    silence_free(sil);
    return rc;
}

int silences_expire(struct silences *s, const char *id, double now)
{
    struct silence *sil = find(s, id);
    if (!sil) return -ENOENT;
    enum silence_state st = silence_state_at(sil, now);
    if (st == SILENCE_EXPIRED) return 1;
    if (st == SILENCE_PENDING) sil->starts_at = now;
    sil->ends_at = now;
    sil->updated_at = now;
    return 0;
}

/* ---- the file ---- */

int silences_save(const struct silences *s, char *err, size_t errlen)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < s->n; i++) {
        json_t *o = silence_json(s->v[i], 0);
        /* Numbers keep the times exactly. */
        json_object_set_new(o, "startsAt", json_real(s->v[i]->starts_at));
        json_object_set_new(o, "endsAt", json_real(s->v[i]->ends_at));
        json_object_set_new(o, "updatedAt", json_real(s->v[i]->updated_at));
        json_object_del(o, "status");
        json_array_append_new(arr, o);
    }
    char *text = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    if (!text) {
        snprintf(err, errlen, "%s: cannot encode the silences", s->path);
        return -ENOMEM;
    }
    int rc = durable_replace(s->path, text, strlen(text), err, errlen);
    free(text);
    return rc;
}

int silences_load(struct silences *s, char *err, size_t errlen)
{
    char *data;
    size_t len;
    int rc = file_read_all(s->path, CAP_SILENCES_FILE, &data, &len);
    if (rc == -ENOENT) return 0;
    if (rc < 0) {
        snprintf(err, errlen, "%s: cannot read: %s", s->path, strerror(-rc));
        return -1;
    }
    json_error_t jerr;
    json_t *arr = json_loadb(data, len, 0, &jerr);
    free(data);
    if (!json_is_array(arr)) {
        snprintf(err, errlen, "%s: not a list of silences%s%s", s->path, arr ? "" : ": ",
                 arr ? "" : jerr.text);
        json_decref(arr);
        return -1;
    }
    size_t i, count = 0;
    json_t *it;
    json_array_foreach(arr, i, it)
    {
        char why[256];
        struct silence *sil = parse_silence(it, why, sizeof(why));
        if (!sil || !sil->id[0] || find(s, sil->id)) {
            snprintf(err, errlen, "%s: silence %zu: %s", s->path, i + 1,
                     sil ? "no id, or an id twice" : why);
            silence_free(sil);
            json_decref(arr);
            for (size_t k = 0; k < s->n; k++) silence_free(s->v[k]);
            s->n = 0; /* all or nothing */
            return -1;
        }
        add_silence(s, sil);
        count++;
    }
    json_decref(arr);
    return (int)count;
}
