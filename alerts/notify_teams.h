/* notify_teams.h: what the two Teams notifiers share (notify_teams.c): settings, the
 * notifier core (a secret webhook URL, the size cap, sending) and reading Teams' answers.
 * notify_msteams.c and notify_msteams_workflow.c add their card, envelope and fallback. */
#ifndef DRWATCH_NOTIFY_TEAMS_H
#define DRWATCH_NOTIFY_TEAMS_H

#include <stdbool.h>

#include "buf.h"
#include "config.h"
#include "notify_lib.h"

/* The legacy connector's answer (msteams.md §2): success only for 2xx with the body "1";
 * "...returned HTTP error <code>..." inside a 200 is that code (429 and 5xx are retried, 413
 * fails: the card was too big). Workflows (legacy 0): any 2xx is success. Then for both: 429,
 * 408 and 5xx are retried (honouring Retry-After), other statuses fail; transport failures are
 * retried. reason is a static string or written into reason_buf; detail gets the body. */
enum send_outcome teams_classify(int legacy, const struct httpc_result *r, const char **reason,
                                 char *reason_buf, size_t reason_len, double *retry_after,
                                 struct buf *detail);
/* The <code> in "Microsoft Teams endpoint returned HTTP error <code>", or 0. */
long teams_inner_status(const char *body, size_t len);

#define TEAMS_MAX_PAYLOAD  (28u * 1024u)      /* msteams.md: 28 KB per message */
#define TEAMS_DEFAULT_MAX  (27u * 1024u)      /* what we aim for, with room to spare */
#define TEAMS_RETRY_AFTER  10.0               /* MS staff: wait 10-15 s after a 429 */
#define TEAMS_CONTENT_TYPE "application/json" /* both kinds */

struct teams_config {
    char *webhook_url_file; /* required: the URL is the credential */
    char *template_file;    /* NULL: default.lua in the templates directory */
    int64_t max_payload_bytes;
    char *ca_file;
    bool insecure_skip_verify;
};

extern const struct cfg_key teams_config_keys[];

/* Appends a minimal card (title and one text) to out: the fallback when nothing fits or the
 * template failed, and the wrapping of a plain-text payload (the manager's own fallback). */
typedef void (*teams_card_fn)(const char *title, size_t title_len, const char *text,
                              size_t text_len, bool resolved, struct buf *out);

struct teams {
    int legacy;
    teams_card_fn simple_card;
    char *url;
    char *ca_file;
    bool insecure;
    int64_t timeout_ms;
    size_t max_bytes;
    struct tmpl *tmpl;
    struct sender sender;
};

/* Makes the notifier: reads the URL file, loads the template (which must have the functions
 * in need). Returns 0, or -1 with err (never the URL itself). */
DRW_MUST_CHECK int teams_create(int legacy, const void *config, const struct notifier_env *env,
                                const char *const *need, teams_card_fn simple_card, void **state,
                                char *err, size_t errlen);
void teams_free(void *state); /* NULL-safe */
void teams_cancel(void *state);
/* Posts p; a text/plain payload (the manager's fallback when rendering failed) is first
 * wrapped in a simple card, so that Teams gets a message it takes. */
void teams_send(void *state, const struct payload *p, notifier_done_fn done, void *arg);

/* Renders n with card (called with the struct teams as arg) fitted under max_payload_bytes
 * into p. When nothing fits, p gets the simple card saying so. When the template fails, p
 * gets a simple card too, and -1 with err (the manager counts it, and may replace p with its
 * plain-text fallback, which teams_send wraps). */
DRW_MUST_CHECK int teams_render(struct teams *t, const struct notification *n, struct payload *p,
                                render_fn card, char *err, size_t errlen);

/* The fallback cards' title and text. */
void teams_fallback_texts(const struct notification *n, const char *why, struct buf *title,
                          struct buf *text);

#endif
