/* notify_lib.h: what the notifiers in alerts/ share (msteams, msteams_workflow, email,
 * alertmanager): Lua templates, fitting a payload under a size cap, text helpers and the
 * plumbing that sends a stored payload over the loop's curl multi.
 *
 * Templates (notify_template.c). A template file (alerts/templates/default.lua, or the receiver's
 * own) is a Lua chunk run in a luabox sandbox that returns a table of functions, each taking
 * the notification as a read-only table and returning a string (title, text, email parts) or a
 * table that C encodes as JSON (cards). Iterating a table of the notification with pairs()
 * goes in sorted key order, so that a payload is the same bytes every time it is rendered.
 *
 * Ownership: a struct tmpl owns its Lua state; a struct sender owns its requests in flight.
 * Strings handed to callbacks (send_result reason and detail) are valid during the call. */
#ifndef DRWATCH_NOTIFY_LIB_H
#define DRWATCH_NOTIFY_LIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "buf.h"
#include "http_client.h"
#include "notifier.h"

#define TMPL_MEM_LIMIT  (32u << 20) /* one template state's Lua heap */
#define TMPL_TIMEOUT_MS 500         /* one template function call */

/* ---- templates ---- */

struct tmpl;

/* Loads the template file: `file` when it is absolute, else <dir>/<file>, where file NULL
 * means "default.lua". The chunk must return a table holding a function for every name in
 * need (NULL-terminated). Returns 0, or -1 with "path: why" (or "path:line: why") in err. */
DRW_MUST_CHECK int tmpl_open(const char *dir, const char *file, const char *const *need,
                             struct tmpl **out, char *err, size_t errlen);
void tmpl_free(struct tmpl *t); /* NULL-safe */

/* How much of a notification a template sees: the first max_alerts alerts (the rest are
 * counted in truncated_alerts) and annotation values cut at annotation_max bytes (with "…").
 * SIZE_MAX: no limit. */
struct tmpl_limits {
    size_t max_alerts;
    size_t annotation_max;
};

/* Builds the read-only notification table for the next calls. Returns 0, or -1 with err
 * (the Lua heap is full). Every tmpl_begin that returned 0 is paired with a tmpl_end. */
DRW_MUST_CHECK int tmpl_begin(struct tmpl *t, const struct notification *n,
                              const struct tmpl_limits *lim, char *err, size_t errlen);
/* Calls the template function fn with the notification; appends its result to out: the
 * string it returned (tmpl_string), or the JSON encoding of the table it returned
 * (tmpl_json: keys sorted, json_null for null, json_array/json_object to mark empty tables;
 * an empty unmarked table is []). Returns 0, RENDER_TOO_BIG when out's cap was reached, or -1
 * with err. */
#define RENDER_TOO_BIG (-2)
DRW_MUST_CHECK int tmpl_string(struct tmpl *t, const char *fn, struct buf *out, char *err,
                               size_t errlen);
DRW_MUST_CHECK int tmpl_json(struct tmpl *t, const char *fn, struct buf *out, char *err,
                             size_t errlen);
void tmpl_end(struct tmpl *t);

/* ---- fitting under a size cap ---- */

/* Renders n with the given limits into out (empty on entry). Returns 0, RENDER_TOO_BIG when
 * out's cap was reached, or -1 with err. */
typedef int (*render_fn)(void *arg, const struct notification *n, const struct tmpl_limits *lim,
                         struct buf *out, char *err, size_t errlen);

/* Renders n through fn into out, at most max_bytes: first whole; then with annotations cut
 * to 512 bytes; then with as many alerts as fit (the rest counted as truncated, so a template
 * can say "and N more alerts"; found by bisection within 2 s of the loop's time); then with
 * no alert and annotations cut to 64 bytes. Returns 0 with out filled, 1 when even that does
 * not fit (the caller sends its own minimal card), or -1 when the template fails. */
DRW_MUST_CHECK int render_fit(const struct notification *n, size_t max_bytes, render_fn fn,
                              void *arg, struct buf *out, char *err, size_t errlen);

/* ---- text helpers ---- */

/* The notification's stable id: sha256 over group key, status and the alerts' fingerprints
 * and states, as 64 hex digits. out: at least 65 bytes. */
void render_dedupe_key(const struct notification *n, char *out, size_t outlen);
/* p->dedupe_key if the manager set it, else render_dedupe_key into it. */
const char *render_payload_key(const struct notification *n, struct payload *p);

/* RFC 3339 in UTC ("2024-06-10T09:41:00Z", with milliseconds when t has them). out: 32 bytes.
 * t <= 0 gives "0001-01-01T00:00:00Z" (Go's zero time, what Alertmanager shows). */
void render_rfc3339(double t, char *out, size_t outlen);
/* RFC 5322 date in UTC ("Mon, 10 Jun 2024 09:45:41 +0000"). out: 40 bytes. */
void render_rfc5322_date(double t, char *out, size_t outlen);

/* Appends s as a JSON string (quotes included); invalid UTF-8 becomes U+FFFD. */
int render_json_string(struct buf *out, const char *s, size_t len);

/* Walks canonical label text (registry.h) with values unescaped: calls fn for each pair.
 * Returns 0, fn's first non-zero result, or -E2BIG for a value over CAP_LABELS_TEXT. */
typedef int (*render_label_fn)(void *arg, const char *name, size_t name_len, const char *value,
                               size_t value_len);
DRW_MUST_CHECK int render_labels_each(const char *labels, render_label_fn fn, void *arg);

/* Replaces every occurrence of secret in text by "<redacted>"; for a URL also its part after
 * the scheme, its path and query, and a sig= parameter's value. */
void render_redact(struct buf *text, const char *secret);

/* Whether every byte is printable ASCII or a tab (no CR, LF or other controls). */
bool render_header_safe(const char *s);

/* ---- sending ---- */

/* Classifies one request's result: the outcome, with reason (static or in reason_buf),
 * retry_after (-1 when none) and the receiver's error text appended to detail. */
typedef enum send_outcome (*sender_classify_fn)(void *arg, const struct httpc_result *r,
                                                const char **reason, char *reason_buf,
                                                size_t reason_len, double *retry_after,
                                                struct buf *detail);

struct send_job;

/* One notifier's requests in flight. Secrets (at most SENDER_MAX_SECRETS, borrowed for the
 * sender's life) are redacted from every detail text. */
#define SENDER_MAX_SECRETS 4
struct sender {
    struct loop *loop;
    struct httpc *http;
    const char *component; /* log prefix, e.g. "msteams" */
    const char *secrets[SENDER_MAX_SECRETS];
    struct send_job *jobs;
};

void sender_init(struct sender *s, const struct notifier_env *env, const char *component);
void sender_add_secret(struct sender *s, const char *secret);
/* Starts one request per opts[i] (httpc copies what it needs); done is called once, on the
 * loop thread, after all have ended: ok if any succeeded, else retry if any may be retried
 * (with the longest Retry-After), else fail. Never calls done before returning. */
void sender_start(struct sender *s, const struct httpc_opts *opts, size_t n,
                  sender_classify_fn classify, void *classify_arg, notifier_done_fn done,
                  void *arg);
/* Reports a failure (SEND_FAIL with reason and detail) without sending anything: for a
 * payload that cannot be sent as it is. Like sender_start, done is called later, on the loop. */
void sender_refuse(struct sender *s, const char *reason, const char *detail, notifier_done_fn done,
                   void *arg);
/* Cancels every job in flight without calling done. */
void sender_cancel(struct sender *s);

/* Reads a secret file (a webhook URL, a password): at most 16 KiB, surrounding white space
 * removed, not empty. Returns 0 with *out malloc'd, or -1 with err (which names the file, not
 * its content). */
DRW_MUST_CHECK int render_read_secret(const char *path, const char *what, char **out, char *err,
                                      size_t errlen);

#endif
