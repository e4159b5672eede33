/* peer_server.c: the mTLS peer endpoint on the loop (see peer_server.h).
 *
 * Why OpenSSL on the loop rather than a second libmicrohttpd daemon: drwatch already links
 * OpenSSL (libcurl uses it), while reading the client certificate inside MHD needs its GnuTLS
 * session and a new build dependency; here the identity check runs inside the handshake (the
 * verify callback), so a wrong client never completes it, every refusal has a precise reason,
 * and the view is read on the thread that writes it. The cost is a tiny HTTP/1.x reader
 * (peer_request.h): one request per connection, headers capped at 8 KiB, a message's body at
 * PEER_MSG_MAX and read by its Content-Length, then Connection: close.
 *
 * A connection goes handshake -> read request -> write response -> close, each step driven by
 * SSL_get_error's WANT_READ/WANT_WRITE on a non-blocking socket. It sits in one of two lists:
 * pending (the handshake has not verified the client: a stranger, under handshake_timeout and
 * the budget of peer_admit.h) or served (verified, under max_connections), and has one
 * deadline timer, set for the handshake and then for the rest of timeout. */
#include "peer_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "caps.h"
#include "clock.h"
#include "log.h"
#include "peer_admit.h"
#include "peer_msg.h"
#include "peer_request.h"
#include "peer_view.h"
#include "xalloc.h"

#define MAX_VIEW_BYTES  (1u << 20)
#define QUIET_AFTER_S   60.0 /* a refusal reason unseen this long is logged as cleared */
#define ACCEPT_BATCH    64
#define PAUSE_MIN_MS    100 /* accepting paused for want of descriptors: first pause */
#define PAUSE_MAX_MS    1000
#define LISTEN_BACKLOG  511 /* as nginx: the kernel caps it at net.core.somaxconn */
#define DEFER_ACCEPT_S  1   /* TCP_DEFER_ACCEPT: the kernel holds silent connections this long */
#define DEFAULT_ADDRESS ":8489"
#define IDENTITY_TEXT   256
#define MAX_HANDSHAKES  256 /* the most max_handshakes may say */

const struct cfg_key peer_listen_keys[] = {
    {.name = "address",
     .type = CFG_STRING,
     .def = DEFAULT_ADDRESS,
     .offset = offsetof(struct peer_listen_config, address),
     .expect = "host:port, :port or [v6]:port to serve the peer endpoint on"},
    {.name = "cert_file",
     .type = CFG_STRING,
     .required = true,
     .offset = offsetof(struct peer_listen_config, cert_file),
     .expect = "the PEM certificate (chain) this drwatch shows its peer"},
    {.name = "key_file",
     .type = CFG_STRING,
     .required = true,
     .offset = offsetof(struct peer_listen_config, key_file),
     .expect = "the PEM key of cert_file"},
    {.name = "client_ca_file",
     .type = CFG_STRING,
     .required = true,
     .offset = offsetof(struct peer_listen_config, client_ca_file),
     .expect = "PEM CA certificates that peer client certificates must chain to"},
    {.name = "allowed_clients",
     .type = CFG_STRINGS,
     .required = true,
     .offset = offsetof(struct peer_listen_config, allowed_clients),
     .expect = "identities a client certificate must name (SAN DNS or URI, else CN)"},
    {.name = "timeout",
     .type = CFG_DURATION,
     .def = "5s",
     .offset = offsetof(struct peer_listen_config, timeout_ms),
     .expect = "how long one connection may take, 100ms to 1m",
     .min = 100,
     .max = 60000},
    {.name = "max_connections",
     .type = CFG_INT,
     .def = "32",
     .offset = offsetof(struct peer_listen_config, max_connections),
     .expect = "authenticated connections at once (after the handshake), 1 to 1024",
     .min = 1,
     .max = 1024},
    {.name = "handshake_timeout",
     .type = CFG_DURATION,
     .def = "2s",
     .offset = offsetof(struct peer_listen_config, handshake_timeout_ms),
     .expect = "how long a client may take to be verified (the TLS handshake), at most "
               "timeout; 100ms to 1m",
     .min = 100,
     .max = 60000},
    {.name = "max_handshakes",
     .type = CFG_INT,
     .def = "16",
     .offset = offsetof(struct peer_listen_config, max_handshakes),
     .expect = "connections not yet verified at once (the oldest gives way to a new one), "
               "1 to 256",
     .min = 1,
     .max = MAX_HANDSHAKES},
    {.name = "max_handshakes_per_address",
     .type = CFG_INT,
     .def = "4",
     .offset = offsetof(struct peer_listen_config, max_handshakes_per_address),
     .expect = "of max_handshakes, how many one client address (an IPv6 /64) may hold, "
               "1 to 256",
     .min = 1,
     .max = MAX_HANDSHAKES},
    CFG_END,
};

static const char *const refusal_names[PEER_REFUSED_COUNT] = {
    [PEER_REFUSED_NO_CERTIFICATE] = "no_certificate",
    [PEER_REFUSED_BAD_CA] = "bad_ca",
    [PEER_REFUSED_EXPIRED] = "expired",
    [PEER_REFUSED_BAD_CERTIFICATE] = "bad_certificate",
    [PEER_REFUSED_WRONG_IDENTITY] = "wrong_identity",
    [PEER_REFUSED_HANDSHAKE] = "handshake",
    [PEER_REFUSED_TIMEOUT] = "timeout",
    [PEER_REFUSED_TOO_MANY_CONNECTIONS] = "too_many_connections",
    [PEER_REFUSED_EVICTED] = "evicted",
    [PEER_REFUSED_ADDRESS_EVICTED] = "address_evicted",
};

static const char *const response_codes[PEER_RESP_COUNT] = {"200", "400", "404", "405",
                                                            "411", "413", "503"};

/* TLS settings, shared by the listener and its connections: a reload swaps the listener's,
 * connections in flight finish with the one they started with. */
struct tls_conf {
    int refs;
    SSL_CTX *ctx;
    char **allowed;
    size_t nallowed;
    double not_after;
    int64_t timeout_ms;
    int64_t handshake_ms; /* at most timeout_ms */
    size_t max_conns;     /* authenticated */
    size_t max_pending;   /* in the handshake */
    size_t max_per_address;
};

enum conn_state { CONN_HANDSHAKE, CONN_READ, CONN_WRITE };

struct conn;
struct conn_list {
    struct conn *head, *tail; /* oldest first */
    size_t n;
};

struct conn {
    struct peer_server *srv;
    struct conn_list *list; /* the server's pending or served */
    struct conn *prev, *next;
    struct peer_pending pend; /* its address, and whether its ClientHello came */
    int64_t started_ms;       /* loop time of accept */
    int fd;
    SSL *ssl;
    struct tls_conf *tls;
    struct loop_watch *watch;
    struct loop_timer *deadline;
    enum conn_state state;
    char addr[INET6_ADDRSTRLEN + 8];
    int refusal; /* set by the verify callback; -1 none */
    char identity[IDENTITY_TEXT];
    char why[160];
    char req[PEER_REQUEST_MAX + PEER_MSG_MAX]; /* the head, and a message's body */
    size_t reqlen;
    struct buf out;
    size_t outpos;
};

struct peer_server {
    struct loop *loop;
    int fd;
    struct loop_watch *watch;
    char address[128];
    struct tls_conf *tls;
    char site[16];
    struct peer_server_stats *stats;         /* the daemon's */
    const struct peerview *view;             /* the daemon's */
    const struct peer_msg_handler *messages; /* the daemon's, or NULL */
    struct conn_list pending;                /* not verified yet: strangers */
    struct conn_list served;                 /* verified */
    struct loop_timer *resume;               /* ends a pause of accepting */
    int64_t pause_ms;                        /* the last pause, 0 once accept worked again */
};

struct peer_server_plan {
    bool listen;
    struct tls_conf *tls;
    char address[128];
    int fd; /* a newly bound socket, or -1 to keep the current one */
    uint16_t port;
};

const char *peer_refusal_name(enum peer_refusal r)
{
    return (unsigned)r < PEER_REFUSED_COUNT ? refusal_names[r] : "handshake";
}

const char *peer_response_code(enum peer_response r)
{
    return (unsigned)r < PEER_RESP_COUNT ? response_codes[r] : "400";
}

/* ---- TLS material ---- */

static void tls_conf_unref(struct tls_conf *t)
{
    if (!t || --t->refs > 0) return;
    SSL_CTX_free(t->ctx);
    for (size_t i = 0; i < t->nallowed; i++) free(t->allowed[i]);
    free(t->allowed);
    free(t);
}

static void ssl_error_text(char *out, size_t outlen)
{
    unsigned long e = ERR_peek_last_error();
    if (e)
        ERR_error_string_n(e, out, outlen);
    else
        snprintf(out, outlen, "unknown error");
    ERR_clear_error();
}

static double asn1_time_wall(const ASN1_TIME *t)
{
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
    return (double)timegm(&tm);
}

static int verify_cb(int ok, X509_STORE_CTX *xs);

static struct tls_conf *tls_conf_new(const struct peer_listen_config *c, char *err, size_t errlen)
{
    char why[256];
    struct tls_conf *t = xcalloc(1, sizeof(*t));
    t->refs = 1;
    t->timeout_ms = c->timeout_ms ? c->timeout_ms : 5000;
    t->handshake_ms = c->handshake_timeout_ms ? c->handshake_timeout_ms : 2000;
    if (t->handshake_ms > t->timeout_ms) t->handshake_ms = t->timeout_ms;
    t->max_conns = c->max_connections ? (size_t)c->max_connections : 32;
    t->max_pending = c->max_handshakes ? (size_t)c->max_handshakes : 16;
    t->max_per_address = c->max_handshakes_per_address ? (size_t)c->max_handshakes_per_address : 4;
    if (c->allowed_clients.n == 0) {
        snprintf(err, errlen, "peer_listen: allowed_clients is empty: name the peer's identity");
        goto fail;
    }
    t->allowed = xcalloc(c->allowed_clients.n, sizeof(char *));
    for (size_t i = 0; i < c->allowed_clients.n; i++) {
        if (!c->allowed_clients.v[i][0]) {
            snprintf(err, errlen, "peer_listen: allowed_clients[%zu] is empty", i + 1);
            goto fail;
        }
        t->allowed[t->nallowed++] = xstrdup(c->allowed_clients.v[i]);
    }
    ERR_clear_error();
    t->ctx = SSL_CTX_new(TLS_server_method());
    if (!t->ctx) {
        ssl_error_text(why, sizeof(why));
        snprintf(err, errlen, "peer_listen: cannot make a TLS context: %s", why);
        goto fail;
    }
    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(t->ctx, c->cert_file) != 1) {
        ssl_error_text(why, sizeof(why));
        snprintf(err, errlen, "peer_listen: cert_file %s: %s", c->cert_file, why);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(t->ctx, c->key_file, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(t->ctx) != 1) {
        ssl_error_text(why, sizeof(why));
        snprintf(err, errlen, "peer_listen: key_file %s: %s", c->key_file, why);
        goto fail;
    }
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(c->client_ca_file);
    if (!names || SSL_CTX_load_verify_locations(t->ctx, c->client_ca_file, NULL) != 1) {
        if (names) sk_X509_NAME_pop_free(names, X509_NAME_free);
        ssl_error_text(why, sizeof(why));
        snprintf(err, errlen, "peer_listen: client_ca_file %s: no CA certificate read (%s)",
                 c->client_ca_file, why);
        goto fail;
    }
    SSL_CTX_set_client_CA_list(t->ctx, names); /* takes names */
    SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_cb);
    X509_VERIFY_PARAM_set_purpose(SSL_CTX_get0_param(t->ctx), X509_PURPOSE_SSL_CLIENT);
    /* A full handshake, and so a full check, on every connection. */
    SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(t->ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(t->ctx, 0);
    X509 *own = SSL_CTX_get0_certificate(t->ctx);
    t->not_after = own ? asn1_time_wall(X509_get0_notAfter(own)) : 0;
    return t;
fail:
    tls_conf_unref(t);
    return NULL;
}

int peer_listen_check(const struct peer_listen_config *c, char *err, size_t errlen)
{
    struct tls_conf *t = tls_conf_new(c, err, errlen);
    if (!t) return -1;
    tls_conf_unref(t);
    return 0;
}

/* ---- identities ---- */

/* The certificate's names for logs: SAN DNS and URI names, else the CN. */
static void cert_describe(X509 *cert, char *out, size_t outlen)
{
    out[0] = '\0';
    size_t n = 0;
    GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens) && n < outlen; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        if (g->type != GEN_DNS && g->type != GEN_URI) continue;
        const ASN1_IA5STRING *s =
            g->type == GEN_DNS ? g->d.dNSName : g->d.uniformResourceIdentifier;
        int w = snprintf(out + n, outlen - n, "%s%s:%.*s", n ? "," : "",
                         g->type == GEN_DNS ? "DNS" : "URI", ASN1_STRING_length(s),
                         (const char *)ASN1_STRING_get0_data(s));
        if (w > 0) n += (size_t)w;
    }
    GENERAL_NAMES_free(gens);
    if (n) return;
    char cn[IDENTITY_TEXT - 8] = "";
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn));
    snprintf(out, outlen, "CN:%s", cn[0] ? cn : "(none)");
}

static bool name_allowed(const struct tls_conf *t, const unsigned char *s, int len, bool dns)
{
    if (len <= 0) return false;
    for (size_t i = 0; i < t->nallowed; i++) {
        if (strlen(t->allowed[i]) != (size_t)len) continue;
        if (dns ? strncasecmp(t->allowed[i], (const char *)s, (size_t)len) == 0
                : memcmp(t->allowed[i], s, (size_t)len) == 0)
            return true;
    }
    return false;
}

/* Whether cert names an allowed identity (see peer_server.h for the rule). */
static bool identity_allowed(const struct tls_conf *t, X509 *cert)
{
    bool has_names = false, match = false;
    GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens) && !match; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        if (g->type == GEN_DNS || g->type == GEN_URI) {
            const ASN1_IA5STRING *s =
                g->type == GEN_DNS ? g->d.dNSName : g->d.uniformResourceIdentifier;
            has_names = true;
            match = name_allowed(t, ASN1_STRING_get0_data(s), ASN1_STRING_length(s),
                                 g->type == GEN_DNS);
        }
    }
    GENERAL_NAMES_free(gens);
    if (has_names) return match;
    X509_NAME *subj = X509_get_subject_name(cert);
    int idx = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
    if (idx < 0) return false;
    unsigned char *cn = NULL;
    int len = ASN1_STRING_to_UTF8(&cn, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, idx)));
    match = len > 0 && (int)strlen((char *)cn) == len && name_allowed(t, cn, len, true);
    OPENSSL_free(cn);
    return match;
}

/* The refusal reason for an X509_V_ERR_* code. */
static enum peer_refusal refusal_of(int e)
{
    switch (e) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID: return PEER_REFUSED_EXPIRED;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_UNTRUSTED:
    case X509_V_ERR_CERT_CHAIN_TOO_LONG: return PEER_REFUSED_BAD_CA;
    default: return PEER_REFUSED_BAD_CERTIFICATE;
    }
}

static int verify_cb(int ok, X509_STORE_CTX *xs)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
    struct conn *c = ssl ? SSL_get_app_data(ssl) : NULL;
    if (!c) return 0;
    int depth = X509_STORE_CTX_get_error_depth(xs);
    X509 *cert = X509_STORE_CTX_get_current_cert(xs);
    if (depth == 0 && cert && !c->identity[0]) cert_describe(cert, c->identity, IDENTITY_TEXT);
    if (!ok) {
        int e = X509_STORE_CTX_get_error(xs);
        if (c->refusal < 0) {
            c->refusal = refusal_of(e);
            snprintf(c->why, sizeof(c->why), "%s (depth %d)", X509_verify_cert_error_string(e),
                     depth);
        }
        return 0;
    }
    if (depth == 0 && cert && !identity_allowed(c->tls, cert)) {
        c->refusal = PEER_REFUSED_WRONG_IDENTITY;
        snprintf(c->why, sizeof(c->why), "the certificate names no allowed client");
        X509_STORE_CTX_set_error(xs, X509_V_ERR_APPLICATION_VERIFICATION);
        return 0;
    }
    return 1;
}

/* ---- refusals ---- */

static void refuse(struct peer_server *s, enum peer_refusal r, const char *addr,
                   const char *identity, const char *why)
{
    double now = time_mono_s();
    s->stats->refused[r]++;
    s->stats->last_refused[r] = now;
    log_complain(&s->stats->complaints[r], LOG_WARN, "peer_listen",
                 "refused a peer client (%s) from %s%s%s: %s; logged once while it repeats",
                 refusal_names[r], addr, identity && *identity ? " presenting " : "",
                 identity && *identity ? identity : "", why && *why ? why : refusal_names[r]);
}

/* Clears the complaints of reasons quiet for QUIET_AFTER_S. */
static void refusals_quiet_check(struct peer_server_stats *st)
{
    double now = time_mono_s();
    for (int r = 0; r < PEER_REFUSED_COUNT; r++)
        if (st->complaints[r].active && now - st->last_refused[r] > QUIET_AFTER_S)
            log_complain_clear(&st->complaints[r], "peer_listen", "no more %s refusals for %.0fs",
                               refusal_names[r], QUIET_AFTER_S);
}

/* ---- connections ---- */

static void list_append(struct conn_list *l, struct conn *c)
{
    c->list = l;
    c->next = NULL;
    c->prev = l->tail;
    if (l->tail)
        l->tail->next = c;
    else
        l->head = c;
    l->tail = c;
    l->n++;
}

static void list_remove(struct conn *c)
{
    struct conn_list *l = c->list;
    if (!l) return;
    if (c->prev)
        c->prev->next = c->next;
    else
        l->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        l->tail = c->prev;
    l->n--;
    c->list = NULL;
    c->prev = c->next = NULL;
}

static void conn_close(struct conn *c)
{
    list_remove(c);
    loop_watch_del(c->watch);
    loop_timer_free(c->deadline);
    SSL_free(c->ssl);
    close(c->fd);
    tls_conf_unref(c->tls);
    buf_free(&c->out);
    free(c);
}

static void handshake_failed(struct conn *c, int sslerr)
{
    enum peer_refusal r = PEER_REFUSED_HANDSHAKE;
    char why[200] = "";
    unsigned long e = ERR_peek_last_error();
    if (c->refusal >= 0) {
        r = (enum peer_refusal)c->refusal;
        snprintf(why, sizeof(why), "%s", c->why);
    } else if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
               ERR_GET_REASON(e) == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
        r = PEER_REFUSED_NO_CERTIFICATE;
        snprintf(why, sizeof(why), "the client sent no certificate");
    } else if (e) {
        ERR_error_string_n(e, why, sizeof(why));
    } else {
        snprintf(why, sizeof(why), "%s",
                 sslerr == SSL_ERROR_SYSCALL || sslerr == SSL_ERROR_ZERO_RETURN
                     ? "the client closed the connection during the handshake"
                     : "handshake failed");
    }
    ERR_clear_error();
    refuse(c->srv, r, c->addr, c->identity, why);
    conn_close(c);
}

static void reply(struct conn *c, enum peer_response code, const char *ctype, const char *body,
                  size_t len, const char *extra)
{
    static const char *const text[PEER_RESP_COUNT] = {"200 OK",
                                                      "400 Bad Request",
                                                      "404 Not Found",
                                                      "405 Method Not Allowed",
                                                      "411 Length Required",
                                                      "413 Content Too Large",
                                                      "503 Service Unavailable"};
    c->srv->stats->responses[code]++;
    buf_printf(&c->out,
               "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
               "Cache-Control: no-store\r\nConnection: close\r\n%s\r\n",
               text[code], ctype, len, extra ? extra : "");
    buf_append(&c->out, body, len);
    c->state = CONN_WRITE;
}

static void reply_text(struct conn *c, enum peer_response code, const char *msg, const char *extra)
{
    reply(c, code, "text/plain; charset=utf-8", msg, strlen(msg), extra);
}

/* Answers a message with a (an explicit yes or no, as JSON). */
static void reply_answer(struct conn *c, enum peer_response code, struct peer_answer *a)
{
    struct buf body;
    buf_init(&body, PEER_MSG_MAX + 1);
    if (peer_answer_encode(a, &body) < 0) {
        log_error("peer_listen", "the answer to message %s could not be encoded: %s", a->id,
                  a->reason);
        buf_reset(&body);
        a->yes = false;
        a->run[0] = a->state[0] = '\0';
        snprintf(a->reason, sizeof(a->reason), "the answer could not be encoded");
        if (peer_answer_encode(a, &body) < 0) buf_reset(&body);
    }
    reply(c, code, "application/json", body.data ? body.data : "", body.len, NULL);
    buf_free(&body);
}

/* A message of kind from the authenticated peer, its body body[0..len): read, then answered
 * by the daemon's handler (the switchover part), always with an explicit yes or no. */
static void answer_message(struct conn *c, enum peer_msg_kind kind, const char *body, size_t len)
{
    struct peer_server *s = c->srv;
    struct peer_msg m;
    struct peer_answer a = {0};
    char err[200];
    snprintf(a.site, sizeof(a.site), "%s", s->site);
    if (peer_msg_parse(body, len, kind, &m, err, sizeof(err)) < 0) {
        log_warn("peer_listen", "a %s message from %s (%s) could not be read: %s",
                 peer_msg_kind_name(kind), c->addr, c->identity, err);
        snprintf(a.id, sizeof(a.id), "%s", m.id);
        snprintf(a.reason, sizeof(a.reason), "the message could not be read: %s", err);
        reply_answer(c, PEER_RESP_400, &a);
        return;
    }
    snprintf(a.id, sizeof(a.id), "%s", m.id);
    a.seq = m.seq;
    if (s->messages && s->messages->answer) {
        s->messages->answer(s->messages->arg, &m, c->identity, &a);
    } else {
        snprintf(a.reason, sizeof(a.reason),
                 "%s has no switchover section: it takes part in no transition", s->site);
        log_warn("peer_listen", "%s message %s (seq %llu) from %s: no (%s)",
                 peer_msg_kind_name(kind), m.id, (unsigned long long)m.seq, c->identity, a.reason);
    }
    reply_answer(c, a.elsewhere ? PEER_RESP_503 : PEER_RESP_200, &a);
}

/* The request head rq of a POST to a message path came: answers at once when the body cannot
 * be taken, else returns the bytes of head and body to wait for. 0: answered. */
static size_t message_framing(struct conn *c, const struct peer_request *rq)
{
    char msg[160];
    if (rq->transfer_encoding || rq->content_length < 0) {
        reply_text(c, PEER_RESP_411,
                   "411 length required: a peer message is sent with a Content-Length\n", NULL);
        return 0;
    }
    if (rq->content_length > PEER_MSG_MAX) {
        snprintf(msg, sizeof(msg), "413 content too large: a peer message is at most %d bytes\n",
                 PEER_MSG_MAX);
        reply_text(c, PEER_RESP_413, msg, NULL);
        return 0;
    }
    return rq->head_len + (size_t)rq->content_length;
}

/* Answers the request head rq, or 400 when it is NULL (malformed or too large). A message
 * (POST to a message path) is answered once its body is in: returns the bytes of head and
 * body to wait for, 0 when answered. */
static size_t respond(struct conn *c, const struct peer_request *rq)
{
    if (!rq) {
        reply_text(c, PEER_RESP_400, "400 bad request\n", NULL);
        return 0;
    }
    int kind = peer_msg_kind_of_path(rq->path);
    if (strcmp(rq->path, PEER_VIEW_PATH) != 0 && kind < 0) {
        reply_text(c, PEER_RESP_404,
                   "404 not found: the peer endpoint serves " PEER_VIEW_PATH ", " PEER_CONFIRM_PATH
                   " and " PEER_TRANSITION_PATH "\n",
                   NULL);
        return 0;
    }
    if (kind >= 0) {
        if (strcmp(rq->method, "POST") == 0) return message_framing(c, rq);
        reply_text(c, PEER_RESP_405, "405 method not allowed: a peer message is a POST\n",
                   "Allow: POST\r\n");
        return 0;
    }
    if (strcmp(rq->method, "GET") != 0) {
        reply_text(c, PEER_RESP_405, "405 method not allowed: " PEER_VIEW_PATH " accepts GET\n",
                   "Allow: GET\r\n");
        return 0;
    }
    struct buf body;
    buf_init(&body, MAX_VIEW_BYTES);
    double now = time_wall_s();
    if (peerview_render(c->srv->view, &body, c->srv->site, now) < 0) buf_reset(&body);
    c->srv->stats->last_served = now;
    reply(c, PEER_RESP_200, "application/json", body.data ? body.data : "", body.len, NULL);
    buf_free(&body);
    return 0;
}

/* What came so far of the request: answers once the head (and a message's body) is in. */
static void on_request_bytes(struct conn *c)
{
    struct peer_request rq;
    enum peer_request_status st = peer_request_parse(c->req, c->reqlen, &rq);
    if (st == PEER_REQUEST_INCOMPLETE) return;
    size_t need = respond(c, st == PEER_REQUEST_OK ? &rq : NULL);
    if (need == 0 || c->reqlen < need) return; /* answered, or the body is still coming */
    int kind = peer_msg_kind_of_path(rq.path);
    answer_message(c, (enum peer_msg_kind)kind, c->req + rq.head_len, need - rq.head_len);
}

static void want(struct conn *c, int sslerr)
{
    loop_watch_set(c->watch, sslerr == SSL_ERROR_WANT_WRITE ? LOOP_WRITE : LOOP_READ);
}

/* The handshake is done, so the client is verified (verify_cb checked its certificate and
 * identity): it leaves the strangers' budget for the authenticated one, and has the rest of
 * timeout for its request. Returns false, having freed c, when that budget is full. */
static bool conn_verified(struct conn *c)
{
    struct peer_server *s = c->srv;
    list_remove(c);
    if (s->served.n >= s->tls->max_conns) {
        refuse(s, PEER_REFUSED_TOO_MANY_CONNECTIONS, c->addr, c->identity,
               "too many authenticated connections at once (max_connections)");
        conn_close(c);
        return false;
    }
    list_append(&s->served, c);
    c->state = CONN_READ;
    int64_t left = c->tls->timeout_ms - (loop_now(s->loop) - c->started_ms);
    loop_timer_start(c->deadline, left > 0 ? left : 0);
    return true;
}

/* One handshake step: 1 to go on, 0 when waiting for the socket or c is freed. */
static int conn_handshake(struct conn *c)
{
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) return conn_verified(c) ? 1 : 0;
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        /* OpenSSL leaves TLS_ST_BEFORE once a whole ClientHello is in: what the budget
         * tells a client from a silent or slow connection by */
        c->pend.hello = SSL_get_state(c->ssl) != TLS_ST_BEFORE;
        want(c, e);
    } else {
        handshake_failed(c, e);
    }
    return 0;
}

/* One step of the connection: 1 to go on, 0 when waiting for the socket or c is freed. */
static int conn_step_once(struct conn *c)
{
    ERR_clear_error();
    int r, e;
    if (c->state == CONN_HANDSHAKE) return conn_handshake(c);
    if (c->state == CONN_READ) {
        r = SSL_read(c->ssl, c->req + c->reqlen, (int)(sizeof(c->req) - c->reqlen));
        if (r > 0) {
            c->reqlen += (size_t)r;
            on_request_bytes(c);
            return 1;
        }
    } else {
        r = SSL_write(c->ssl, c->out.data + c->outpos, (int)(c->out.len - c->outpos));
        if (r > 0) {
            c->outpos += (size_t)r;
            if (c->outpos < c->out.len) return 1;
            SSL_shutdown(c->ssl); /* our close_notify; no need to wait for theirs */
            ERR_clear_error();
            conn_close(c);
            return 0;
        }
    }
    e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        want(c, e);
        return 0;
    }
    ERR_clear_error();
    conn_close(c); /* the client went away (without a request, or mid-response) */
    return 0;
}

/* Advances the connection as far as the socket allows; may free c. */
static void conn_step(struct conn *c)
{
    while (conn_step_once(c)) {
    }
}

static void on_conn_io(void *arg, int fd, unsigned events)
{
    (void)fd, (void)events;
    conn_step(arg);
}

static void on_conn_deadline(void *arg)
{
    struct conn *c = arg;
    loop_timer_free(c->deadline);
    c->deadline = NULL;
    char why[96];
    bool hs = c->state == CONN_HANDSHAKE;
    snprintf(why, sizeof(why), "no %s within %.3gs", hs ? "TLS handshake" : "complete request",
             (double)(hs ? c->tls->handshake_ms : c->tls->timeout_ms) / 1000.0);
    refuse(c->srv, PEER_REFUSED_TIMEOUT, c->addr, c->identity, why);
    conn_close(c);
}

static void addr_text(const struct sockaddr_storage *ss, char *out, size_t outlen)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
        port = ntohs(a->sin_port);
        snprintf(out, outlen, "%s:%d", ip, port);
    } else {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
        port = ntohs(a->sin6_port);
        snprintf(out, outlen, "[%s]:%d", ip, port);
    }
}

/* Starts a connection from ss (whose address is addr) among the strangers. */
static void conn_start(struct peer_server *s, int fd, const struct sockaddr_storage *ss,
                       const struct peer_addr *addr)
{
    struct conn *c = xcalloc(1, sizeof(*c));
    c->srv = s;
    c->fd = fd;
    c->refusal = -1;
    c->tls = s->tls;
    c->tls->refs++;
    c->pend.addr = *addr;
    c->started_ms = loop_now(s->loop);
    buf_init(&c->out, CAP_PEER_VIEW + 16 * CAP_KIB); /* the view and its headers */
    addr_text(ss, c->addr, sizeof(c->addr));
    list_append(&s->pending, c);
    c->ssl = SSL_new(c->tls->ctx);
    c->watch = loop_watch_add(s->loop, fd, LOOP_READ, on_conn_io, c);
    if (!c->ssl || !c->watch || SSL_set_fd(c->ssl, fd) != 1) {
        ERR_clear_error();
        conn_close(c);
        return;
    }
    SSL_set_app_data(c->ssl, c);
    SSL_set_accept_state(c->ssl);
    c->deadline = loop_timer_new(s->loop, on_conn_deadline, c);
    loop_timer_start(c->deadline, c->tls->handshake_ms);
    conn_step(c); /* reads its ClientHello when it came with the connection */
}

/* Makes room among the strangers for a connection from addr (peer_admit.h): drops the
 * connections that give way to it, each counted. */
static void conn_admit(struct peer_server *s, const struct peer_addr *addr)
{
    for (;;) {
        struct peer_pending pend[MAX_HANDSHAKES];
        struct conn *who[MAX_HANDSHAKES];
        size_t n = 0, victim = 0;
        for (struct conn *c = s->pending.head; c && n < MAX_HANDSHAKES; c = c->next) {
            pend[n] = c->pend;
            who[n++] = c;
        }
        enum peer_admit_verdict v =
            peer_admit_check(pend, n, addr, s->tls->max_pending, s->tls->max_per_address, &victim);
        if (v == PEER_ADMIT_ROOM) return;
        char why[160];
        bool per_address = v == PEER_ADMIT_EVICT_ADDRESS;
        snprintf(why, sizeof(why),
                 "gave way to a newer connection: %zu %s in the TLS handshake at once (%s)",
                 per_address ? s->tls->max_per_address : s->tls->max_pending,
                 per_address ? "from its address" : "connections",
                 per_address ? "max_handshakes_per_address" : "max_handshakes");
        refuse(s, per_address ? PEER_REFUSED_ADDRESS_EVICTED : PEER_REFUSED_EVICTED,
               who[victim]->addr, who[victim]->identity, why);
        conn_close(who[victim]);
    }
}

/* ---- accepting ---- */

static void on_resume(void *arg)
{
    struct peer_server *s = arg;
    if (s->watch) loop_watch_set(s->watch, LOOP_READ);
}

/* accept failed with err for want of a resource that frees itself later (a descriptor, memory)
 * or for a reason we do not know. The listening socket stays readable, and the loop is level-
 * triggered: watching it now would spin. So stop watching it for a while, longer while it
 * lasts (nginx pauses accepting the same way); the clients wait in the backlog meanwhile. */
static void accept_pause(struct peer_server *s, int err)
{
    s->pause_ms = s->pause_ms ? s->pause_ms * 2 : PAUSE_MIN_MS;
    if (s->pause_ms > PAUSE_MAX_MS) s->pause_ms = PAUSE_MAX_MS;
    s->stats->accept_paused++;
    log_complain(&s->stats->accept_complaint, LOG_WARN, "peer_listen",
                 "cannot accept a peer connection: %s; stopped accepting peer connections for "
                 "%d ms to 1 s at a time; logged once while it lasts",
                 strerror(err), PAUSE_MIN_MS);
    loop_watch_set(s->watch, 0);
    loop_timer_start(s->resume, s->pause_ms);
}

/* Whether an accept error concerns only the connection it was about (accept(2): pending
 * network errors are passed on to accept; retry as for EAGAIN). */
static bool accept_error_transient(int err)
{
    switch (err) {
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
    case EPERM: /* a firewall rule refused it */
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH: return true;
    default: return false;
    }
}

static void on_accept(void *arg, int fd, unsigned events)
{
    (void)events;
    struct peer_server *s = arg;
    refusals_quiet_check(s->stats);
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int cfd = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            int err = errno;
            if (err == EAGAIN || err == EWOULDBLOCK) return;
            if (accept_error_transient(err)) continue;
            accept_pause(s, err); /* EMFILE, ENFILE, ENOBUFS, ENOMEM, or unknown */
            return;
        }
        if (s->pause_ms) {
            s->pause_ms = 0;
            log_complain_clear(&s->stats->accept_complaint, "peer_listen",
                               "accepting peer connections again");
        }
        struct peer_addr addr;
        peer_addr_of(&ss, &addr);
        conn_admit(s, &addr);
        conn_start(s, cfd, &ss, &addr);
    }
}

/* ---- listening ---- */

/* Binds address; returns the socket or -1 with err. */
static int bind_address(const char *address, uint16_t *port_out, char *err, size_t errlen)
{
    const char *colon = strrchr(address, ':');
    char host[128];
    if (!colon || colon[1] == '\0' || (size_t)(colon - address) >= sizeof(host)) {
        snprintf(err, errlen,
                 "peer_listen: bad address \"%s\": expected host:port, :port or "
                 "[v6]:port",
                 address);
        return -1;
    }
    memcpy(host, address, (size_t)(colon - address));
    host[colon - address] = '\0';
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    if (strcmp(host, "localhost") == 0) snprintf(host, sizeof(host), "127.0.0.1");
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV},
                    *res = NULL;
    bool any = host[0] == '\0';
    if (any) hints.ai_family = AF_INET6;
    int rc = getaddrinfo(any ? "::" : host, colon + 1, &hints, &res);
    if (rc != 0 && any) {
        hints.ai_family = AF_INET;
        rc = getaddrinfo("0.0.0.0", colon + 1, &hints, &res);
    }
    if (rc != 0) {
        snprintf(err, errlen, "peer_listen: bad address \"%s\": %s", address, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) continue;
        int one = 1, zero = 0, defer = DEFER_ACCEPT_S;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        /* best effort (Linux): a silent connection stays in the kernel until it sends */
        setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof(defer));
        if (ai->ai_family == AF_INET6 && any)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
            snprintf(err, errlen, "peer_listen: cannot listen on %s: %s", address, strerror(errno));
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd >= 0) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        getsockname(fd, (struct sockaddr *)&ss, &sl);
        *port_out = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                                  : ((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    return fd;
}

int peer_server_prepare(const struct peer_server *cur, const struct peer_listen_config *c,
                        const char *address, struct peer_server_plan **out, char *err,
                        size_t errlen)
{
    struct peer_server_plan *p = xcalloc(1, sizeof(*p));
    p->fd = -1;
    *out = NULL;
    if (!c) {
        if (address) {
            snprintf(err, errlen,
                     "--web.peer-listen-address needs a peer_listen section "
                     "(cert_file, key_file, client_ca_file, allowed_clients)");
            free(p);
            return -1;
        }
        *out = p; /* no listener */
        return 0;
    }
    p->listen = true;
    snprintf(p->address, sizeof(p->address), "%s",
             address      ? address
             : c->address ? c->address
                          : DEFAULT_ADDRESS);
    p->tls = tls_conf_new(c, err, errlen);
    if (!p->tls) {
        free(p);
        return -1;
    }
    if (!cur || strcmp(cur->address, p->address) != 0) {
        p->fd = bind_address(p->address, &p->port, err, errlen);
        if (p->fd < 0) {
            peer_server_plan_free(p);
            return -1;
        }
    }
    *out = p;
    return 0;
}

void peer_server_plan_free(struct peer_server_plan *p)
{
    if (!p) return;
    if (p->fd >= 0) close(p->fd);
    tls_conf_unref(p->tls);
    free(p);
}

void peer_server_free(struct peer_server *s)
{
    if (!s) return;
    while (s->pending.head) conn_close(s->pending.head);
    while (s->served.head) conn_close(s->served.head);
    loop_timer_free(s->resume);
    loop_watch_del(s->watch);
    if (s->fd >= 0) close(s->fd);
    tls_conf_unref(s->tls);
    s->stats->listening = false;
    free(s);
}

void peer_server_commit(struct peer_server **sp, const struct peer_server_env *env,
                        struct peer_server_plan *p)
{
    struct peer_server *s = *sp;
    if (!p->listen) {
        peer_server_free(s);
        *sp = NULL;
        peer_server_plan_free(p);
        return;
    }
    if (!s) {
        s = xcalloc(1, sizeof(*s));
        s->loop = env->loop;
        s->fd = -1;
        s->resume = loop_timer_new(env->loop, on_resume, s);
        *sp = s;
    }
    if (p->fd >= 0) {
        loop_watch_del(s->watch);
        if (s->fd >= 0) close(s->fd);
        s->fd = p->fd;
        p->fd = -1;
        s->watch = loop_watch_add(env->loop, s->fd, LOOP_READ, on_accept, s);
        env->stats->port = p->port;
        log_info("peer_listen", "serving the peer endpoint on %s (port %u), mTLS required",
                 p->address, p->port);
    }
    tls_conf_unref(s->tls);
    s->tls = p->tls;
    p->tls = NULL;
    snprintf(s->address, sizeof(s->address), "%s", p->address);
    snprintf(s->site, sizeof(s->site), "%s", env->site ? env->site : "");
    s->stats = env->stats;
    s->view = env->view;
    s->messages = env->messages;
    s->stats->listening = s->watch != NULL;
    snprintf(s->stats->address, sizeof(s->stats->address), "%s", s->address);
    s->stats->cert_not_after = s->tls->not_after;
    peer_server_plan_free(p);
}
