/* http_client.h: asynchronous HTTP(S) requests on the loop through libcurl's multi interface.
 *
 * Each request has a deadline, a body cap, TLS settings and optional bearer auth. The result
 * comes back once, on the loop thread, through the callback; a request can be cancelled before
 * then (the callback is not called). Failures are classified into the `reason` label values
 * used by drwatch_collector_errors_total. */
#ifndef DRWATCH_HTTP_CLIENT_H
#define DRWATCH_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "loop.h"
#include "xalloc.h"

struct httpc;
struct httpc_req;

/* A streamed body's line (see httpc_opts.on_line): without its "\n" (or "\r\n"), valid only
 * during the call. */
typedef void (*httpc_line_fn)(void *arg, const char *line, size_t len);

struct httpc_tls {
    const char *ca_file;   /* NULL: the system's CAs */
    const char *cert_file; /* client certificate (mTLS), or NULL */
    const char *key_file;
    int insecure; /* 1: skip certificate and host name verification */
};

/* Mail instead of HTTP (added for alerts/notify_email.c): with httpc_opts.mail set, the request is
 * an SMTP (smtp://, smtps://) upload of body, the RFC 5322 message, to the envelope below.
 * The result's status is the last SMTP reply code; reason adds "auth" (AUTH refused),
 * "starttls" (TLS required but not offered or refused) and "access_denied" (EHLO refused). */
struct httpc_mail {
    const char *from;          /* envelope sender (MAIL FROM), without angle brackets */
    const char *const *rcpt;   /* envelope recipients (RCPT TO), NULL-terminated */
    const char *username;      /* AUTH, or NULL for none */
    const char *password;      /* with username */
    int require_tls;           /* 1: STARTTLS or fail (CURLUSESSL_ALL); smtps:// is TLS anyway */
    const char *login_options; /* e.g. "AUTH=PLAIN", or NULL: any mechanism the server offers */
};

struct httpc_opts {
    const char *method; /* NULL: GET */
    const char *url;
    const char *const *headers; /* "Name: value", NULL-terminated, or NULL */
    const char *bearer_token;   /* adds Authorization: Bearer ..., or NULL */
    const char *body;           /* request body, or NULL */
    size_t body_len;
    int64_t timeout_ms; /* whole transfer, connect included */
    size_t max_body;    /* response cap in bytes; 0 means CAP_HTTP_BODY (16 MiB) */
    struct httpc_tls tls;
    int accept_gzip; /* ask for and decode gzip */
    /* "HOST:PORT:ADDRESS:PORT": connect to ADDRESS for the URL's HOST:PORT, keeping the URL's
     * name for the Host header, TLS SNI and certificate checks (curl's CURLOPT_CONNECT_TO). */
    const char *connect_to;
    const struct httpc_mail *mail; /* NULL: HTTP; else SMTP (see struct httpc_mail) */
    /* Streaming (a Kubernetes watch), NULL: off. A 2xx body is handed to on_line (with the
     * callback's arg) line by line as it arrives instead of being kept; max_body then caps
     * what is held at once, so a line that does not end within it fails the transfer
     * ("body_too_large"). Lines are delivered on the loop outside curl's own callbacks: on_line
     * may start requests, and may cancel this one (then no more lines and no done). The done
     * callback still comes once at the end, its body the unfinished tail (normally empty). The
     * body of any other status is kept for done, as without on_line. TCP keepalive is on. */
    httpc_line_fn on_line;
};

struct httpc_result {
    int ok;             /* 1 when a response arrived (any status), 0 on transport failure */
    long status;        /* HTTP status, 0 when none */
    const char *reason; /* failure class: "timeout", "connect", "tls", "dns", "body_too_large",
                           "transport", "http_<status>" is left to the caller */
    const char *error;  /* human-readable detail (curl's error buffer) */
    const char *body;   /* NUL-terminated, valid during the callback */
    size_t body_len;
    const char *content_type; /* or NULL */
    double duration_s;
    double retry_after_s; /* parsed Retry-After header, -1 when absent */
    int curl_code;        /* curl's CURLcode, 0 on success (for callers that need more) */
};

typedef void (*httpc_done_fn)(void *arg, const struct httpc_result *r);

struct httpc *httpc_new(struct loop *l);
/* Cancels every request still in flight (their callbacks are not called). NULL-safe. */
void httpc_free(struct httpc *h);

/* Starts a request. Returns a handle valid until the callback returns or httpc_cancel; NULL
 * when curl refuses the options (the callback is then never called). */
DRW_MUST_CHECK struct httpc_req *httpc_start(struct httpc *h, const struct httpc_opts *o,
                                             httpc_done_fn fn, void *arg);
void httpc_cancel(struct httpc_req *r); /* NULL-safe */

#endif
