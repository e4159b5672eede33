/* act_tekton_wire.c: the tekton_deploy actuator's wire formats and retry rules (see
 * act_tekton_wire.h), apart from its I/O so that they are tested byte for byte and fuzzed.
 *
 * The push body is written by hand rather than by jansson: the EventListener's interceptor
 * checks an HMAC of the exact bytes, and the old agent's bytes are Python's json.dumps
 * formatting (", " and ": ", \uXXXX for everything outside printable ASCII), which no JSON
 * library's options reproduce. Replies and lists are read with jansson (k8s.h helpers).
 *
 * Uses: exporter/buf, exporter/k8s (JSON helpers, label values), OpenSSL (HMAC). */
#include "act_tekton_wire.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#include "k8s.h"
#include "timeparse.h"

/* ---- the push body ---- */

/* The code point at s (UTF-8, strict: no overlong forms, surrogates or values past U+10FFFF)
 * and its length in *n; -1 when s does not start with one. */
static long utf8_next(const unsigned char *s, size_t *n)
{
    static const long min_of[5] = {0, 0, 0x80, 0x800, 0x10000};
    unsigned char c = s[0];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0) return -1;
    long cp = len == 1 ? c : c & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return -1; /* also stops at the NUL */
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min_of[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return -1;
    *n = len;
    return cp;
}

/* One string as Python's json.dumps (ensure_ascii=True) writes it. */
static int py_json_string(struct buf *out, const char *s)
{
    int rc = buf_putc(out, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p && rc == 0;) {
        size_t n;
        long cp = utf8_next(p, &n);
        if (cp < 0) return -EINVAL;
        p += n;
        const char *esc = cp == '"'    ? "\\\""
                          : cp == '\\' ? "\\\\"
                          : cp == '\n' ? "\\n"
                          : cp == '\r' ? "\\r"
                          : cp == '\t' ? "\\t"
                          : cp == '\b' ? "\\b"
                          : cp == '\f' ? "\\f"
                                       : NULL;
        if (esc)
            rc = buf_puts(out, esc);
        else if (cp >= 0x20 && cp <= 0x7e)
            rc = buf_putc(out, (char)cp);
        else if (cp < 0x10000)
            rc = buf_printf(out, "\\u%04lx", cp);
        else /* a surrogate pair, as Python writes one */
            rc = buf_printf(out, "\\u%04lx\\u%04lx", 0xd800 + ((cp - 0x10000) >> 10),
                            0xdc00 + ((cp - 0x10000) & 0x3ff));
    }
    return rc < 0 ? rc : buf_putc(out, '"');
}

int tekton_push_body(struct buf *out, const char *ref, const char *clone_url)
{
    int rc = buf_puts(out, "{\"ref\": ");
    if (rc == 0) rc = py_json_string(out, ref);
    if (rc == 0) rc = buf_puts(out, ", \"repository\": {\"name\": \"\", \"clone_url\": ");
    if (rc == 0) rc = py_json_string(out, clone_url);
    if (rc == 0)
        rc = buf_puts(out, "}, \"head_commit\": {\"id\": \"\", \"message\": \"\", \"author\": "
                           "{\"username\": \"switchover_agent\"}}}");
    return rc;
}

/* ---- the signatures ---- */

static int hmac_hex(const EVP_MD *md, const char *prefix, const void *key, size_t keylen,
                    const void *body, size_t len, char out[TEKTON_SIG_MAX])
{
    /* OpenSSL reads a NULL key of length 0 as "keep the last key": give it a real empty one. */
    static const unsigned char empty[1];
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    if (!HMAC(md, keylen ? key : empty, (int)keylen, body, len, mac, &maclen)) return -EIO;
    size_t k = (size_t)snprintf(out, TEKTON_SIG_MAX, "%s=", prefix);
    for (unsigned int i = 0; i < maclen && k + 2 < TEKTON_SIG_MAX; i++, k += 2)
        snprintf(out + k, TEKTON_SIG_MAX - k, "%02x", mac[i]);
    return 0;
}

int tekton_sign(const void *key, size_t keylen, const void *body, size_t len,
                char sha1[TEKTON_SIG_MAX], char sha256[TEKTON_SIG_MAX])
{
    int rc = hmac_hex(EVP_sha1(), "sha1", key, keylen, body, len, sha1);
    return rc < 0 ? rc : hmac_hex(EVP_sha256(), "sha256", key, keylen, body, len, sha256);
}

/* ---- the reply ---- */

/* s for an error line: at most max bytes, control bytes as spaces. */
static void printable(char *out, size_t outlen, const char *s, size_t max)
{
    size_t k = 0;
    for (size_t i = 0; s && s[i] && i < max && k + 1 < outlen; i++)
        out[k++] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? ' ' : s[i];
    out[k] = '\0';
}

int tekton_reply_event_id(const char *body, size_t len, char out[TEKTON_EVENT_ID_MAX], char *err,
                          size_t errlen)
{
    out[0] = '\0';
    char why[200];
    json_t *root = k8s_json_load(body, len, why, sizeof(why));
    if (!root) {
        snprintf(err, errlen, "the reply is not JSON (%s)", why);
        return -1;
    }
    int rc = -1;
    json_t *id = json_is_object(root) ? json_object_get(root, "eventID") : NULL;
    const char *s = json_is_string(id) ? json_string_value(id) : NULL;
    if (!json_is_object(root)) {
        snprintf(err, errlen, "the reply is not a JSON object");
    } else if (!s) {
        snprintf(err, errlen, "the reply has no eventID string");
    } else if (!*s || json_string_length(id) != strlen(s) || !k8s_label_value_valid(s)) {
        printable(why, sizeof(why), s, 80);
        snprintf(err, errlen, "eventID \"%s\" is not a Kubernetes label value", why);
    } else {
        snprintf(out, TEKTON_EVENT_ID_MAX, "%s", s);
        rc = 0;
    }
    json_decref(root);
    return rc;
}

/* ---- the runs of an event ---- */

/* The run's condition of type Succeeded (knative keeps exactly one; its index is not part of
 * the contract), or NULL when the controller has not set one yet. */
static json_t *succeeded_condition(json_t *item)
{
    json_t *conds = k8s_json_path(item, "status", "conditions", K8S_END);
    size_t i;
    json_t *c;
    json_array_foreach(conds, i, c)
    {
        const char *type = k8s_json_str(c, "type", K8S_END);
        if (type && strcmp(type, "Succeeded") == 0) return c;
    }
    return NULL;
}

static enum tekton_run_state run_state(json_t *cond)
{
    const char *s = k8s_json_str(cond, "status", K8S_END);
    if (s && strcmp(s, "True") == 0) return TEKTON_RUN_SUCCEEDED;
    if (s && strcmp(s, "False") == 0) return TEKTON_RUN_FAILED;
    return TEKTON_RUN_PENDING; /* "Unknown", absent, or not reconciled yet */
}

/* Makes this run the one that decides (name, reason, message). */
static void decide(struct tekton_outcome *o, const char *name, json_t *cond)
{
    printable(o->name, sizeof(o->name), name, TEKTON_NAME_MAX - 1);
    printable(o->reason, sizeof(o->reason), k8s_json_str(cond, "reason", K8S_END),
              sizeof(o->reason) - 1);
    printable(o->message, sizeof(o->message), k8s_json_str(cond, "message", K8S_END),
              sizeof(o->message) - 1);
}

static void read_run(struct tekton_outcome *o, json_t *item, const char *event_id)
{
    const char *id = k8s_json_str(item, "metadata", "labels", TEKTON_EVENT_ID_LABEL, K8S_END);
    const char *name = k8s_json_str(item, "metadata", "name", K8S_END);
    if (!id || strcmp(id, event_id) != 0 || !name || !k8s_name_valid(name, true)) return;
    json_t *cond = succeeded_condition(item);
    enum tekton_run_state st = run_state(cond);
    bool first = o->runs++ == 0;
    if (st == TEKTON_RUN_PENDING && o->nunfinished < TEKTON_MAX_RUNS)
        snprintf(o->unfinished[o->nunfinished++], TEKTON_NAME_MAX, "%s", name);
    /* Failed beats unfinished beats succeeded: the deploy is done only when every run is. */
    if (first || (st == TEKTON_RUN_FAILED && o->state != TEKTON_RUN_FAILED) ||
        (st == TEKTON_RUN_PENDING && o->state == TEKTON_RUN_SUCCEEDED)) {
        o->state = st;
        decide(o, name, cond);
    }
}

int tekton_outcome_read(const char *body, size_t len, const char *event_id,
                        struct tekton_outcome *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    char why[200];
    json_t *root = k8s_json_load(body, len, why, sizeof(why));
    if (!root) {
        snprintf(err, errlen, "the PipelineRun list is not JSON (%s)", why);
        return -1;
    }
    json_t *items = json_is_object(root) ? json_object_get(root, "items") : NULL;
    int rc = 0;
    if (!json_is_array(items)) {
        snprintf(err, errlen, "the answer is not a PipelineRunList (no items array)");
        rc = -1;
    } else {
        size_t i;
        json_t *item;
        json_array_foreach(items, i, item)
        {
            read_run(out, item, event_id);
        }
    }
    json_decref(root);
    return rc;
}

static double created_at(json_t *item)
{
    json_t *v = k8s_json_path(item, "metadata", "creationTimestamp", K8S_END);
    double t;
    if (!json_is_string(v) || timeparse_iso(json_string_value(v), json_string_length(v), 0, &t) < 0)
        return -1;
    return t;
}

int tekton_event_since(const char *body, size_t len, double since, char out[TEKTON_EVENT_ID_MAX],
                       char *err, size_t errlen)
{
    char why[200];
    out[0] = '\0';
    json_t *root = k8s_json_load(body, len, why, sizeof(why));
    json_t *items = json_is_object(root) ? json_object_get(root, "items") : NULL;
    if (!json_is_array(items)) {
        snprintf(err, errlen, "the answer is not a PipelineRunList (%s)",
                 root ? "no items array" : why);
        json_decref(root);
        return -1;
    }
    double best = 0;
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item)
    {
        const char *id = k8s_json_str(item, "metadata", "labels", TEKTON_EVENT_ID_LABEL, K8S_END);
        double t = created_at(item);
        if (!id || !k8s_label_value_valid(id) || !id[0] || t < since || (out[0] && t >= best))
            continue;
        best = t;
        snprintf(out, TEKTON_EVENT_ID_MAX, "%s", id);
    }
    json_decref(root);
    return out[0] ? 1 : 0;
}

void tekton_mark_write(const struct tekton_mark *m, char *out, size_t outlen)
{
    snprintf(out, outlen, "tekton attempts=%lld first=%.3f sent=%.3f event=%s", m->attempts,
             m->first_at, m->sent_at, m->event_id[0] ? m->event_id : "-");
}

int tekton_mark_read(const char *text, struct tekton_mark *m)
{
    char id[TEKTON_EVENT_ID_MAX];
    int end = 0;
    memset(m, 0, sizeof(*m));
    if (sscanf(text, "tekton attempts=%lld first=%lf sent=%lf event=%63[^ ]%n", &m->attempts,
               &m->first_at, &m->sent_at, id, &end) != 4 ||
        text[end] != '\0' || m->attempts < 0 || m->attempts > 1000 || !(m->sent_at > 0))
        return -1;
    if (strcmp(id, "-") != 0) {
        if (!k8s_label_value_valid(id)) return -1;
        snprintf(m->event_id, sizeof(m->event_id), "%s", id);
    }
    return 0;
}

/* ---- the retry rules ---- */

enum tekton_verdict tekton_judge_attempt(const struct tekton_policy *p,
                                         const struct tekton_attempts *a,
                                         enum tekton_run_state seen, int64_t now_ms,
                                         const char **why)
{
    if (why) *why = "";
    if (seen == TEKTON_RUN_SUCCEEDED) return TEKTON_DONE;
    if (seen == TEKTON_RUN_FAILED) return tekton_after_failure(p, a, now_ms, why);
    /* Also when no run carries the event id: a 202 does not promise that one was made. */
    return now_ms - a->trigger_ms >= p->attempt_timeout_ms ? TEKTON_CANCEL : TEKTON_WAIT;
}

enum tekton_verdict tekton_after_failure(const struct tekton_policy *p,
                                         const struct tekton_attempts *a, int64_t now_ms,
                                         const char **why)
{
    const char *dummy;
    if (!why) why = &dummy;
    *why = "";
    if (a->attempts > p->retries) {
        *why = "no retry left";
        return TEKTON_GIVE_UP;
    }
    /* Waiting out the pause only to find the cap spent would waste it: decide now. */
    if (now_ms + p->retry_interval_ms - a->first_ms >= p->total_cap_ms) {
        *why = "a retry could not start within total_cap of the first trigger";
        return TEKTON_GIVE_UP;
    }
    return TEKTON_BACKOFF;
}

enum tekton_verdict tekton_judge_backoff(const struct tekton_policy *p,
                                         const struct tekton_attempts *a, int64_t now_ms)
{
    if (a->retry_at_ms - a->first_ms >= p->total_cap_ms) return TEKTON_GIVE_UP;
    return now_ms >= a->retry_at_ms ? TEKTON_RETRIGGER : TEKTON_WAIT;
}

const char *tekton_verdict_name(enum tekton_verdict v)
{
    static const char *const names[] = {"wait",    "done",      "cancel",
                                        "backoff", "retrigger", "give_up"};
    return (unsigned)v < ARRAY_LEN(names) ? names[v] : "?";
}

const char *tekton_run_state_name(enum tekton_run_state s)
{
    static const char *const names[] = {"none", "pending", "succeeded", "failed"};
    return (unsigned)s < ARRAY_LEN(names) ? names[s] : "?";
}
