/* notify_msteams_workflow.c: the Teams Workflows (Power Automate "When a Teams webhook request is
 * received") receiver, the connectors' successor. Renders the template's adaptive_card(n) and
 * wraps it in the envelope the flow expects (msteams.md §3):
 *   {"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive",
 *    "contentUrl":null,"content":<card>}]}
 * fitted under 28 KB like the legacy card. The trigger answers 202 with an empty body; any 2xx
 * is a delivery, 429/5xx are retried with Retry-After, other statuses fail.
 * Uses notify_teams.c and notify_template.c. */
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "notifier.h"
#include "notify_teams.h"

#define ENVELOPE_HEAD "{\"attachments\":[{\"content\":"
#define ENVELOPE_TAIL                                                                     \
    ",\"contentType\":\"application/vnd.microsoft.card.adaptive\",\"contentUrl\":null}]," \
    "\"type\":\"message\"}"

static const char *const need[] = {"adaptive_card", NULL};

static int render_card(void *arg, const struct notification *n, const struct tmpl_limits *lim,
                       struct buf *out, char *err, size_t errlen)
{
    struct teams *t = arg;
    if (buf_puts(out, ENVELOPE_HEAD) < 0) return RENDER_TOO_BIG;
    if (tmpl_begin(t->tmpl, n, lim, err, errlen) < 0) return -1;
    int rc = tmpl_json(t->tmpl, "adaptive_card", out, err, errlen);
    tmpl_end(t->tmpl);
    if (rc == 0 && buf_puts(out, ENVELOPE_TAIL) < 0) rc = RENDER_TOO_BIG;
    return rc;
}

/* An Adaptive Card with a heading and a text, in the envelope. */
static void simple_card(const char *title, size_t title_len, const char *text, size_t text_len,
                        bool resolved, struct buf *out)
{
    buf_puts(out,
             ENVELOPE_HEAD "{\"$schema\":\"http://adaptivecards.io/schemas/adaptive-card.json\","
                           "\"body\":[{\"color\":");
    buf_puts(out, resolved ? "\"Good\"" : "\"Attention\"");
    buf_puts(out, ",\"size\":\"Medium\",\"style\":\"heading\",\"text\":");
    render_json_string(out, title, title_len);
    buf_puts(out, ",\"type\":\"TextBlock\",\"weight\":\"Bolder\",\"wrap\":true},{\"text\":");
    render_json_string(out, text, text_len);
    buf_puts(out, ",\"type\":\"TextBlock\",\"wrap\":true}],\"msteams\":{\"width\":\"full\"},"
                  "\"type\":\"AdaptiveCard\",\"version\":\"1.2\"}" ENVELOPE_TAIL);
}

static int workflow_create(const void *config, const struct notifier_env *env, void **state,
                           char *err, size_t errlen)
{
    return teams_create(0, config, env, need, simple_card, state, err, errlen);
}

static int workflow_render(void *state, const struct notification *n, struct payload *p, char *err,
                           size_t errlen)
{
    return teams_render(state, n, p, render_card, err, errlen);
}

const struct notifier_ops msteams_workflow_notifier = {
    .type = "msteams_workflow",
    .keys = teams_config_keys,
    .config_size = sizeof(struct teams_config),
    .create = workflow_create,
    .render = workflow_render,
    .send = teams_send,
    .cancel = teams_cancel,
    .free = teams_free,
};
