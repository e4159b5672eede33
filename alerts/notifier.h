/* notifier.h: the one small interface every receiver type implements (STYLE.md: one pluggable
 * unit per file, one static table).
 *
 * Delivery is in two steps so that nothing is lost across a crash. When a group is due, the
 * manager asks the receiver's notifier to render the notification into a payload (bytes, plus
 * the request's content type and a dedupe key), appends that to the on-disk outbox and fsyncs
 * it; only then does the outbox ask the notifier to send it. A send ends with a result: ok
 * (the entry is removed), retry (network error, 5xx, 429, a 200 whose body reports an error;
 * with Retry-After when the receiver gave one), or fail (any other 4xx: not retried, counted,
 * logged with the receiver's error body). After a restart, pending entries are sent again from
 * their stored payloads (at least once; receivers that can use a dedupe key get one).
 *
 * Secrets (webhook URLs, SMTP passwords) come from files named in the config and never appear
 * in logs, metrics or errors: notifiers redact them. */
#ifndef DRWATCH_NOTIFIER_H
#define DRWATCH_NOTIFIER_H

#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "buf.h"
#include "config.h"

struct loop;
struct httpc;

struct notifier_env {
    struct loop *loop;
    struct httpc *http;
    const char *templates_dir; /* alerts/templates/ or the config's templates directory */
    int64_t timeout_ms; /* added: the receiver's `timeout` for one send (default 10s); the outbox
                           cancels a send that has not called done a second after it */
};

/* A rendered payload: what the outbox stores and later sends. */
struct payload {
    struct buf body;
    char content_type[64];
    char dedupe_key[80]; /* the notification's stable id (group key + fingerprints + status) */
};

enum send_outcome { SEND_OK, SEND_RETRY, SEND_FAIL };

struct send_result {
    enum send_outcome outcome;
    double retry_after_s; /* from Retry-After, or -1 */
    const char *reason;   /* for drwatch_notifications_total{result}: "ok", "timeout",
                             "http_429", "http_500", "teams_error", "http_400", "smtp_...", ... */
    const char *detail;   /* the receiver's error text, secrets redacted */
};

typedef void (*notifier_done_fn)(void *arg, const struct send_result *r);

struct notifier_ops {
    const char *type;           /* the receiver config key: "msteams", "msteams_workflow", "email",
                                   "webhook", "alertmanager" */
    const struct cfg_key *keys; /* one receiver's settings of this type */
    size_t config_size;
    /* Makes a notifier for one receiver's settings. Returns 0, or -1 with err filled. */
    int (*create)(const void *config, const struct notifier_env *env, void **state, char *err,
                  size_t errlen);
    /* Renders n into p (whose body is empty). Returns 0, or -1 with err filled (a template
     * that fails is a bug worth an alert of its own, but never a lost notification: the
     * manager then sends a plain-text fallback). */
    int (*render)(void *state, const struct notification *n, struct payload *p, char *err,
                  size_t errlen);
    /* Sends a stored payload; done is called once, on the loop thread. */
    void (*send)(void *state, const struct payload *p, notifier_done_fn done, void *arg);
    /* Drops a send in flight without calling done (shutdown, reload). */
    void (*cancel)(void *state);
    void (*free)(void *state);
    /* How long after its last receipt the receiver drops a firing alert on its own (an
     * Alertmanager resolves it), or NULL: never. The manager refuses a route to it that
     * resends an unchanged group less often than twice in that time. */
    double (*forgets_after_s)(const void *state);
};

/* Every notifier type, in alerts/notify_table.c. */
extern const struct notifier_ops *const notifier_table[];
extern const size_t notifier_table_len;

#endif
