/* fuzz_notify_render.c: arbitrary label and annotation values through the Teams Workflows
 * notifier's rendering with the default template (alerts/templates/default.lua): JSON string
 * escaping of any bytes (invalid UTF-8 included), Markdown escaping, cutting annotations at
 * UTF-8 boundaries, and fitting under the 28 KB cap. The input is split at NUL bytes into
 * values; its first byte picks how many alerts share them (see FUZZ_MAX_ALERTS). Invariants:
 * the payload is valid JSON (jansson, which insists on valid UTF-8) and never over the cap.
 * Runs from the repository's root (the template directory is relative). */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "caps.h"
#include "notify_teams.h"

extern const struct notifier_ops msteams_workflow_notifier;

/* What one input may cost. Every alert carries the same values, so a 13th copy reaches no code
 * the 3rd did not; but each copy costs a Lua view, a pass of the template, md() and the JSON
 * encoder over the values, in each of the up to ~9 renders the fitting tries: 40 copies of
 * the corpus' 98 KB seed took 0.35 s under ASan, and the fuzzer ran 14 inputs/s. Within these
 * bounds a dozen alerts of a few KB still overflow the 28 KB cap (the bisection), and values
 * past the cap still reach the card without alerts and the fallback card, with a resolved
 * alert too: which alerts are resolved also comes from the first byte. */
#define FUZZ_MAX_ALERTS  12
#define FUZZ_ALERT_BYTES (64u << 10) /* alerts times input bytes */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static void *state;
    static int broken;
    if (broken) return 0;
    if (!state) {
        FILE *f = fopen("/tmp/drwatch-fuzz-webhook", "w");
        if (f) fputs("https://example.invalid/workflows/x", f);
        if (f) fclose(f);
        struct teams_config c = {.webhook_url_file = "/tmp/drwatch-fuzz-webhook"};
        struct notifier_env env = {.templates_dir = "alerts/templates"};
        char err[256];
        if (msteams_workflow_notifier.create(&c, &env, &state, err, sizeof(err)) < 0) {
            fprintf(stderr, "fuzz_notify_render: %s\n", err);
            broken = 1;
            return 0;
        }
    }
    if (size < 1) return 0;
    size_t nalerts = 1 + data[0] % FUZZ_MAX_ALERTS, resolved_from = data[0] >> 6;
    if (nalerts * size > FUZZ_ALERT_BYTES)
        nalerts = size < FUZZ_ALERT_BYTES ? FUZZ_ALERT_BYTES / size : 1;
    /* Values: the input after byte 0, split at NUL. */
    char *copy = malloc(size);
    memcpy(copy, data + 1, size - 1);
    copy[size - 1] = '\0';
    const char *vals[8] = {"", "", "", "", "", "", "", ""};
    size_t nv = 0;
    for (size_t i = 0; i < size - 1 && nv < 8;) {
        vals[nv++] = copy + i;
        i += strlen(copy + i) + 1;
    }
    struct buf labels;
    buf_init(&labels, CAP_LABELS_TEXT);
    buf_puts(&labels, "alertname=\"FuzzAlert\",x=\"");
    label_value_escape(&labels, vals[0], strlen(vals[0]));
    buf_puts(&labels, "\"");
    struct label_pair ann[3] = {
        {"summary", vals[1]}, {"description", vals[2]}, {vals[3][0] ? "z" : "y", vals[4]}};
    struct am_alert *alerts = calloc(nalerts, sizeof(*alerts));
    for (size_t i = 0; i < nalerts; i++) {
        alerts[i] = (struct am_alert){.labels = labels.data,
                                      .fingerprint = i,
                                      .annotations = ann,
                                      .nannotations = 3,
                                      .value = (double)i / 3.0,
                                      .starts_at = 1718012460.0,
                                      .ends_at = (i + resolved_from) % 3 == 2 ? 1718012700.0 : 0,
                                      .generator_url = (char *)vals[5]};
    }
    struct label_pair group[1] = {{"alertname", vals[6]}};
    struct notification n = {.receiver = vals[7],
                             .group_key = "fuzz",
                             .status = "firing",
                             .group_labels = group,
                             .ngroup_labels = 1,
                             .common_labels = group,
                             .ncommon_labels = 1,
                             .common_annotations = ann,
                             .ncommon_annotations = 2,
                             .alerts = alerts,
                             .nalerts = nalerts,
                             .external_url = vals[5],
                             .now = 1718012741.0};
    struct payload p = {0};
    buf_init(&p.body, 1u << 20);
    char err[512];
    msteams_workflow_notifier.render(state, &n, &p, err, sizeof(err));
    json_error_t e;
    json_t *j = json_loadb(p.body.data ? p.body.data : "", p.body.len, 0, &e);
    if (!j || p.body.len > TEAMS_MAX_PAYLOAD) abort();
    json_decref(j);
    buf_free(&p.body);
    buf_free(&labels);
    free(alerts);
    free(copy);
    return 0;
}
