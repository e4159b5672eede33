/* notify_msteams.c: the legacy Office 365 connector ("Incoming Webhook") receiver. Renders the
 * template's message_card(n) as a MessageCard, fitted under the 28 KB Teams limit (alerts
 * dropped from the end with "and N more alerts", long annotations cut), and posts it to the
 * webhook URL read from webhook_url_file. The connector's answers are read by
 * teams_classify: only a 200 with the body "1" is a delivery (msteams.md §2).
 * Uses notify_teams.c (settings, sending, classification) and notify_template.c (templates). */
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "notifier.h"
#include "notify_teams.h"

static const char *const need[] = {"message_card", NULL};

static int render_card(void *arg, const struct notification *n, const struct tmpl_limits *lim,
                       struct buf *out, char *err, size_t errlen)
{
    struct teams *t = arg;
    if (tmpl_begin(t->tmpl, n, lim, err, errlen) < 0) return -1;
    int rc = tmpl_json(t->tmpl, "message_card", out, err, errlen);
    tmpl_end(t->tmpl);
    return rc;
}

/* A MessageCard with a title and a text. */
static void simple_card(const char *title, size_t title_len, const char *text, size_t text_len,
                        bool resolved, struct buf *out)
{
    buf_puts(out, "{\"@context\":\"http://schema.org/extensions\",\"@type\":\"MessageCard\","
                  "\"summary\":");
    render_json_string(out, title, title_len);
    buf_puts(out, ",\"text\":");
    render_json_string(out, text, text_len);
    buf_printf(out, ",\"themeColor\":\"%s\",\"title\":", resolved ? "2DC72D" : "8C1A1A");
    render_json_string(out, title, title_len);
    buf_puts(out, "}");
}

static int msteams_create(const void *config, const struct notifier_env *env, void **state,
                          char *err, size_t errlen)
{
    return teams_create(1, config, env, need, simple_card, state, err, errlen);
}

static int msteams_render(void *state, const struct notification *n, struct payload *p, char *err,
                          size_t errlen)
{
    return teams_render(state, n, p, render_card, err, errlen);
}

const struct notifier_ops msteams_notifier = {
    .type = "msteams",
    .keys = teams_config_keys,
    .config_size = sizeof(struct teams_config),
    .create = msteams_create,
    .render = msteams_render,
    .send = teams_send,
    .cancel = teams_cancel,
    .free = teams_free,
};
