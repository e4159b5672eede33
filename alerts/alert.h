/* alert.h: the data alerts/ works on, as Alertmanager models it. The rules engine turns its
 * alert instances into these (main.c wires it); the alert manager groups, silences, inhibits
 * and routes them; notifiers render groups of them into payloads.
 *
 * Ownership: an am_alert owns its strings; am_alert_free releases them. A notification borrows
 * its alerts from the manager for the duration of a render call only. */
#ifndef DRWATCH_ALERT_H
#define DRWATCH_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "buf.h"
#include "registry.h" /* struct label_pair */

struct am_alert {
    char *labels;                   /* canonical label text (sorted, escaped), alertname included */
    uint64_t fingerprint;           /* of labels: the dedupe key, as Alertmanager's */
    struct label_pair *annotations; /* names and values owned by the alert */
    size_t nannotations;
    double value;        /* the sample value that made it fire */
    double starts_at;    /* Unix seconds: when it became active */
    double ends_at;      /* 0 while firing; when it resolved */
    double updated_at;   /* when the rules engine last reported it */
    char *generator_url; /* a link to where it came from (drwatch's status page), or NULL */
};

void am_alert_copy(struct am_alert *dst, const struct am_alert *src);
void am_alert_free(struct am_alert *a); /* frees what a owns, not a itself */
bool am_alert_resolved(const struct am_alert *a, double now);
/* The value of label `name` (unescaped into out); false when absent or over out's cap
 * (labels_get, registry.h). */
bool am_alert_label(const struct am_alert *a, const char *name, struct buf *out);

/* Added for the alert manager and the notifiers (not in the first contract): */

/* Alertmanager's fingerprint of canonical label text (model.LabelSet.Fingerprint: FNV-1a 64
 * over the sorted names and unescaped values, each followed by 0xff), so that drwatch and an
 * Alertmanager show the same number for the same labels. */
uint64_t am_fingerprint(const char *labels);
/* Canonical label text as pairs in name order, values unescaped; everything (the array too)
 * lives in arena. Returns the number of pairs. */
size_t am_labels_pairs(const char *labels, struct arena *arena, struct label_pair **out);
/* t (Unix seconds) as Go marshals a time.Time: RFC 3339 in UTC with the fraction's trailing
 * zeros cut, to microseconds ("2024-06-10T09:41:17.5Z"); t <= 0 is Go's zero time
 * "0001-01-01T00:00:00Z", a firing alert's endsAt. out needs AM_TIME_LEN bytes. */
#define AM_TIME_LEN 40
size_t am_time_format(double t, char *out);

/* What a notifier renders: one group of alerts for one receiver, as Alertmanager's webhook
 * payload describes it (version 4). */
struct notification {
    const char *receiver;
    const char *group_key; /* stable across notifications of the same group */
    const char *status;    /* "firing" if any alert fires, else "resolved" */
    const struct label_pair *group_labels;
    size_t ngroup_labels;
    const struct label_pair *common_labels;
    size_t ncommon_labels;
    const struct label_pair *common_annotations;
    size_t ncommon_annotations;
    const struct am_alert *alerts; /* firing first, then resolved */
    size_t nalerts;
    const char *external_url; /* drwatch's own URL, for links */
    const char *grafana_url;  /* or NULL */
    double now;
    uint64_t truncated_alerts; /* how many alerts the manager left out (max_alerts) */
};

#endif
