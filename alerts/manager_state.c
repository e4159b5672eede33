/* manager_state.c: what the alert manager keeps over a restart besides silences and the
 * outbox: the alert store and Alertmanager's notification log (what each receiver was last
 * told about each group, so that a restart neither repeats nor forgets a notification). Both
 * go into data_dir/state.json, written atomically when they change (updatedAt-only changes at
 * most every AM_TOUCH_SAVE_EVERY seconds). JSON through jansson. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caps.h"
#include "durable.h"
#include "fileio.h"
#include "manager_int.h"
#include "xalloc.h"

/* ---- the notification log ---- */

struct am_nflog *am_nflog_find(struct am_manager *m, const char *receiver, const char *group_key)
{
    for (size_t i = 0; i < m->nnflog; i++)
        if (strcmp(m->nflog[i].group_key, group_key) == 0 &&
            strcmp(m->nflog[i].receiver, receiver) == 0)
            return &m->nflog[i];
    return NULL;
}

static uint64_t *dup_fps(const uint64_t *v, size_t n)
{
    uint64_t *out = xmalloc((n ? n : 1) * sizeof(*out));
    if (n) memcpy(out, v, n * sizeof(*out));
    return out;
}

void am_nflog_set(struct am_manager *m, const char *receiver, const char *group_key,
                  const uint64_t *firing, size_t nfiring, const uint64_t *resolved,
                  size_t nresolved, double at)
{
    struct am_nflog *e = am_nflog_find(m, receiver, group_key);
    if (!e) {
        m->nflog = xrealloc(m->nflog, (m->nnflog + 1) * sizeof(*m->nflog));
        e = &m->nflog[m->nnflog++];
        *e = (struct am_nflog){.receiver = xstrdup(receiver), .group_key = xstrdup(group_key)};
    } else {
        free(e->firing);
        free(e->resolved);
    }
    e->firing = dup_fps(firing, nfiring);
    e->nfiring = nfiring;
    e->resolved = dup_fps(resolved, nresolved);
    e->nresolved = nresolved;
    e->at = at;
}

static void nflog_entry_free(struct am_nflog *e)
{
    free(e->receiver);
    free(e->group_key);
    free(e->firing);
    free(e->resolved);
}

void am_nflog_gc(struct am_manager *m, double now)
{
    size_t kept = 0;
    for (size_t i = 0; i < m->nnflog; i++) {
        if (m->nflog[i].at + AM_NFLOG_RETENTION < now) {
            nflog_entry_free(&m->nflog[i]);
            m->dirty = true;
        } else {
            m->nflog[kept++] = m->nflog[i];
        }
    }
    m->nnflog = kept;
}

void am_nflog_free_all(struct am_manager *m)
{
    for (size_t i = 0; i < m->nnflog; i++) nflog_entry_free(&m->nflog[i]);
    free(m->nflog);
    m->nflog = NULL;
    m->nnflog = 0;
}

/* ---- saving ---- */

static json_t *fps_json(const uint64_t *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        char hex[17];
        snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)v[i]);
        json_array_append_new(a, json_string(hex));
    }
    return a;
}

static json_t *alert_json(const struct am_alert *a)
{
    json_t *ann = json_array();
    for (size_t i = 0; i < a->nannotations; i++)
        json_array_append_new(ann,
                              json_pack("[s,s]", a->annotations[i].name, a->annotations[i].value));
    json_t *o = json_pack("{s:s,s:o,s:f,s:f,s:f,s:f}", "labels", a->labels, "annotations", ann,
                          "startsAt", a->starts_at, "endsAt", a->ends_at, "updatedAt",
                          a->updated_at, "value", isfinite(a->value) ? a->value : 0.0);
    if (a->generator_url) json_object_set_new(o, "generatorURL", json_string(a->generator_url));
    return o;
}

void am_state_save(struct am_manager *m, double now, bool force)
{
    if (!force && !m->dirty && !(m->touched && now - m->last_save >= AM_TOUCH_SAVE_EVERY)) return;
    json_t *alerts = json_array(), *log = json_array();
    for (size_t i = 0; i < m->nalerts; i++)
        json_array_append_new(alerts, alert_json(&m->alerts[i]));
    for (size_t i = 0; i < m->nnflog; i++) {
        const struct am_nflog *e = &m->nflog[i];
        json_array_append_new(log, json_pack("{s:s,s:s,s:o,s:o,s:f}", "receiver", e->receiver,
                                             "groupKey", e->group_key, "firing",
                                             fps_json(e->firing, e->nfiring), "resolved",
                                             fps_json(e->resolved, e->nresolved), "at", e->at));
    }
    json_t *root = json_pack("{s:i,s:o,s:o}", "version", 1, "alerts", alerts, "nflog", log);
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    char err[512];
    if (!text) {
        log_complain(&m->save_complaint, LOG_ERROR, "alerting", "cannot encode the alert state");
        return;
    }
    if (durable_replace(m->state_path, text, strlen(text), err, sizeof(err)) < 0) {
        log_complain(&m->save_complaint, LOG_ERROR, "alerting", "%s", err);
    } else {
        log_complain_clear(&m->save_complaint, "alerting", "alert state written again");
        m->dirty = m->touched = false;
        m->last_save = now;
    }
    free(text);
}

/* ---- loading ---- */

static size_t fps_from(json_t *arr, uint64_t **out)
{
    size_t n = json_is_array(arr) ? json_array_size(arr) : 0, k = 0;
    *out = xmalloc((n ? n : 1) * sizeof(**out));
    for (size_t i = 0; i < n; i++) {
        const char *hex = json_string_value(json_array_get(arr, i));
        char *end;
        if (hex) (*out)[k] = strtoull(hex, &end, 16);
        if (hex && *end == '\0') k++;
    }
    return k;
}

static bool load_alert(struct am_manager *m, json_t *o, double now)
{
    const char *labels = json_string_value(json_object_get(o, "labels"));
    json_t *ann = json_object_get(o, "annotations");
    if (!labels || !json_is_array(ann)) return false;
    struct am_alert a = {.labels = (char *)labels,
                         .fingerprint = am_fingerprint(labels),
                         .starts_at = json_number_value(json_object_get(o, "startsAt")),
                         .ends_at = json_number_value(json_object_get(o, "endsAt")),
                         .value = json_number_value(json_object_get(o, "value")),
                         /* A restart gives every alert a fresh resolve_timeout: the rules
                          * have not had a chance to report it again yet. */
                         .updated_at = now,
                         .generator_url =
                             (char *)json_string_value(json_object_get(o, "generatorURL"))};
    size_t n = json_array_size(ann);
    struct label_pair *pairs = xcalloc(n + 1, sizeof(*pairs));
    for (size_t i = 0; i < n; i++) {
        json_t *p = json_array_get(ann, i);
        const char *name = json_string_value(json_array_get(p, 0));
        const char *value = json_string_value(json_array_get(p, 1));
        if (!name || !value) {
            free(pairs);
            return false;
        }
        pairs[a.nannotations++] = (struct label_pair){name, value};
    }
    a.annotations = pairs;
    /* NULL when the store is full: am_store_put counts and logs that drop itself. */
    DRW_IGNORE(am_store_put(m, &a));
    free(pairs);
    return true;
}

void am_state_load(struct am_manager *m, double now)
{
    char *data;
    size_t len;
    int rc = file_read_all(m->state_path, CAP_ALERT_STATE_FILE, &data, &len);
    if (rc == -ENOENT) return;
    if (rc < 0) {
        log_error("alerting", "%s: cannot read: %s; starting without the alert state",
                  m->state_path, strerror(-rc));
        return;
    }
    json_error_t jerr;
    json_t *root = json_loadb(data, len, 0, &jerr);
    free(data);
    json_t *alerts = json_object_get(root, "alerts"), *log = json_object_get(root, "nflog");
    if (!json_is_array(alerts) || !json_is_array(log)) {
        log_error("alerting", "%s: not an alert state file (%s); starting without it",
                  m->state_path, root ? "wrong shape" : jerr.text);
        json_decref(root);
        return;
    }
    size_t i, bad = 0;
    json_t *it;
    json_array_foreach(alerts, i, it) bad += !load_alert(m, it, now);
    json_array_foreach(log, i, it)
    {
        const char *recv = json_string_value(json_object_get(it, "receiver"));
        const char *key = json_string_value(json_object_get(it, "groupKey"));
        if (!recv || !key) {
            bad++;
            continue;
        }
        uint64_t *firing, *resolved;
        size_t nf = fps_from(json_object_get(it, "firing"), &firing);
        size_t nr = fps_from(json_object_get(it, "resolved"), &resolved);
        am_nflog_set(m, recv, key, firing, nf, resolved, nr,
                     json_number_value(json_object_get(it, "at")));
        free(firing);
        free(resolved);
    }
    json_decref(root);
    if (bad) log_warn("alerting", "%s: skipped %zu malformed entries", m->state_path, bad);
    log_info("alerting", "restored %zu alerts and %zu notification log entries from %s", m->nalerts,
             m->nnflog, m->state_path);
}
