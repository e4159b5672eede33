/* http_client.c: libcurl multi on the loop (curl's ephiperfifo.c example): curl tells us which
 * sockets to watch and when its timer is due; we tell it what happened. Connections are kept
 * alive in the multi handle's cache between scrapes of the same target.
 *
 * A response body is capped while it arrives (decoded bytes, so a gzip bomb stops at the cap
 * too) and the transfer fails with reason "body_too_large" instead of buffering it.
 *
 * A streamed body (httpc_opts.on_line, a watch) goes through the same capped buffer, but whole
 * lines leave it after every curl_multi_socket_action (deliver_lines): curl refuses calls into
 * the multi handle from inside its own callbacks (CURLM_RECURSIVE_API_CALL), and a line's
 * reader may well start a request. */
#include "http_client.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "caps.h"
#include "log.h"
#include "xalloc.h"

struct httpc {
    struct loop *loop;
    CURLM *multi;
    struct loop_timer *timer;
    struct httpc_req *reqs;       /* in flight, for httpc_free */
    struct httpc_req *delivering; /* the request whose lines go out now; NULL once it is freed */
    bool lines_due;               /* a streamed body received bytes since the last delivery */
};

struct httpc_req {
    struct httpc *h;
    CURL *easy;
    struct curl_slist *headers;
    struct curl_slist *connect_to;
    struct curl_slist *rcpt; /* mail: the envelope recipients */
    char *upload;            /* mail: the message, copied */
    size_t upload_len, upload_pos;
    struct buf body;
    httpc_done_fn fn;
    httpc_line_fn on_line;
    int streaming; /* with on_line: -1 until the status is known, then 1 for a 2xx, else 0 */
    void *arg;
    int too_large;
    char errbuf[CURL_ERROR_SIZE];
    struct httpc_req *prev, *next;
};

static void check_done(struct httpc *h);
static void deliver_lines(struct httpc *h);

static void on_socket_event(void *arg, int fd, unsigned events)
{
    struct httpc *h = arg;
    int flags = ((events & LOOP_READ) ? CURL_CSELECT_IN : 0) |
                ((events & LOOP_WRITE) ? CURL_CSELECT_OUT : 0) |
                ((events & LOOP_ERROR) ? CURL_CSELECT_ERR : 0);
    int running;
    curl_multi_socket_action(h->multi, fd, flags, &running);
    deliver_lines(h);
    check_done(h);
}

static int socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)easy;
    struct httpc *h = userp;
    struct loop_watch *w = socketp;
    if (what == CURL_POLL_REMOVE) {
        loop_watch_del(w);
        curl_multi_assign(h->multi, s, NULL);
        return 0;
    }
    unsigned ev =
        ((what & CURL_POLL_IN) ? LOOP_READ : 0u) | ((what & CURL_POLL_OUT) ? LOOP_WRITE : 0u);
    if (!w) {
        w = loop_watch_add(h->loop, s, ev, on_socket_event, h);
        if (!w) return -1;
        curl_multi_assign(h->multi, s, w);
    } else {
        loop_watch_set(w, ev);
    }
    return 0;
}

static void on_timer(void *arg)
{
    struct httpc *h = arg;
    int running;
    curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    deliver_lines(h);
    check_done(h);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct httpc *h = userp;
    if (timeout_ms < 0)
        loop_timer_stop(h->timer);
    else
        loop_timer_start(h->timer, timeout_ms);
    return 0;
}

struct httpc *httpc_new(struct loop *l)
{
    struct httpc *h = xcalloc(1, sizeof(*h));
    h->loop = l;
    h->multi = curl_multi_init();
    h->timer = loop_timer_new(l, on_timer, h);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    return h;
}

static void req_free(struct httpc_req *r)
{
    struct httpc *h = r->h;
    if (h->delivering == r) h->delivering = NULL;
    if (r->prev)
        r->prev->next = r->next;
    else
        h->reqs = r->next;
    if (r->next) r->next->prev = r->prev;
    curl_multi_remove_handle(h->multi, r->easy);
    curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    curl_slist_free_all(r->connect_to);
    curl_slist_free_all(r->rcpt);
    free(r->upload);
    buf_free(&r->body);
    free(r);
}

void httpc_free(struct httpc *h)
{
    if (!h) return;
    while (h->reqs) req_free(h->reqs);
    curl_multi_cleanup(h->multi);
    loop_timer_free(h->timer);
    free(h);
}

void httpc_cancel(struct httpc_req *r)
{
    if (r) req_free(r);
}

static size_t write_cb(char *p, size_t size, size_t n, void *arg)
{
    struct httpc_req *r = arg;
    if (r->streaming < 0) {
        long status = 0;
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
        r->streaming = status >= 200 && status < 300;
    }
    if (buf_append(&r->body, p, size * n) < 0) {
        r->too_large = 1;
        return 0; /* curl fails the transfer with CURLE_WRITE_ERROR */
    }
    if (r->streaming == 1) r->h->lines_due = true;
    return size * n;
}

/* Hands r's whole lines to its reader, then keeps the unfinished tail. Returns false when the
 * reader cancelled r (it is freed). */
static bool deliver_req(struct httpc *h, struct httpc_req *r)
{
    size_t off = 0;
    char *nl;
    h->delivering = r;
    while ((nl = memchr(r->body.data + off, '\n', r->body.len - off))) {
        size_t start = off, len = (size_t)(nl - (r->body.data + start));
        off += len + 1;
        if (len && r->body.data[start + len - 1] == '\r') len--;
        r->body.data[start + len] = '\0';
        r->on_line(r->arg, r->body.data + start, len);
        if (!h->delivering) return false;
    }
    h->delivering = NULL;
    size_t rest = r->body.len - off;
    memmove(r->body.data, r->body.data + off, rest);
    r->body.len = rest;
    r->body.data[rest] = '\0';
    return true;
}

static void deliver_lines(struct httpc *h)
{
    while (h->lines_due) {
        h->lines_due = false;
        for (struct httpc_req *r = h->reqs; r; r = r->next) {
            if (r->streaming != 1 || !r->body.len) continue;
            if (!deliver_req(h, r)) {
                h->lines_due = true; /* the list changed under us: start over */
                break;
            }
        }
    }
}

static void set_tls(CURL *e, const struct httpc_tls *t)
{
    if (t->ca_file) curl_easy_setopt(e, CURLOPT_CAINFO, t->ca_file);
    if (t->cert_file) curl_easy_setopt(e, CURLOPT_SSLCERT, t->cert_file);
    if (t->key_file) curl_easy_setopt(e, CURLOPT_SSLKEY, t->key_file);
    if (t->insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
}

static size_t read_cb(char *p, size_t size, size_t n, void *arg)
{
    struct httpc_req *r = arg;
    size_t room = size * n, left = r->upload_len - r->upload_pos;
    size_t k = left < room ? left : room;
    memcpy(p, r->upload + r->upload_pos, k);
    r->upload_pos += k;
    return k;
}

/* SMTP: the message is uploaded from a copy; libcurl adds dot-stuffing and the end marker. */
static void set_mail(struct httpc_req *r, const struct httpc_opts *o)
{
    CURL *e = r->easy;
    const struct httpc_mail *m = o->mail;
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    /* Mail is rare and servers drop idle sessions: one connection per message. */
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    r->upload_len = o->body ? o->body_len : 0;
    r->upload = xmalloc(r->upload_len + 1);
    if (r->upload_len) memcpy(r->upload, o->body, r->upload_len);
    curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(e, CURLOPT_READDATA, r);
    curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->upload_len);
    if (m->from) {
        char *from = xasprintf("<%s>", m->from);
        curl_easy_setopt(e, CURLOPT_MAIL_FROM, from);
        free(from);
    }
    for (const char *const *t = m->rcpt; t && *t; t++) {
        char *to = xasprintf("<%s>", *t);
        r->rcpt = curl_slist_append(r->rcpt, to);
        free(to);
    }
    curl_easy_setopt(e, CURLOPT_MAIL_RCPT, r->rcpt);
    if (m->username) {
        curl_easy_setopt(e, CURLOPT_USERNAME, m->username);
        curl_easy_setopt(e, CURLOPT_PASSWORD, m->password ? m->password : "");
    }
    if (m->login_options) curl_easy_setopt(e, CURLOPT_LOGIN_OPTIONS, m->login_options);
    curl_easy_setopt(e, CURLOPT_USE_SSL, (long)(m->require_tls ? CURLUSESSL_ALL : CURLUSESSL_NONE));
}

struct httpc_req *httpc_start(struct httpc *h, const struct httpc_opts *o, httpc_done_fn fn,
                              void *arg)
{
    struct httpc_req *r = xcalloc(1, sizeof(*r));
    r->h = h;
    r->fn = fn;
    r->arg = arg;
    r->on_line = o->on_line;
    r->streaming = o->on_line ? -1 : 0;
    size_t cap = o->max_body ? o->max_body : CAP_HTTP_BODY;
    buf_init(&r->body, cap);
    CURL *e = r->easy = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, o->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(o->timeout_ms > 0 ? o->timeout_ms : 10000));
    if (o->on_line) {
        /* A stream has no length to cap; a connection that died silently shows through
         * keepalive probes before the deadline. */
        curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 15L);
        curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 5L);
    } else {
        curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)cap);
    }
    if (o->mail) {
        set_mail(r, o);
        goto add;
    }
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_USERAGENT, "drwatch/" DRWATCH_VERSION);
    if (o->accept_gzip) curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "gzip");
    if (o->method) curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, o->method);
    if (o->body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o->body_len);
        curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, o->body);
    }
    for (const char *const *hd = o->headers; hd && *hd; hd++)
        r->headers = curl_slist_append(r->headers, *hd);
    if (o->bearer_token) {
        char *line = xasprintf("Authorization: Bearer %s", o->bearer_token);
        r->headers = curl_slist_append(r->headers, line);
        free(line);
    }
    if (r->headers) curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    if (o->connect_to) {
        r->connect_to = curl_slist_append(NULL, o->connect_to);
        curl_easy_setopt(e, CURLOPT_CONNECT_TO, r->connect_to);
    }
add:
    set_tls(e, &o->tls);
    r->next = h->reqs;
    if (h->reqs) h->reqs->prev = r;
    h->reqs = r;
    if (curl_multi_add_handle(h->multi, e) != CURLM_OK) {
        req_free(r);
        return NULL;
    }
    return r;
}

static const char *classify(CURLcode rc, int too_large)
{
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT: return "timeout";
    case CURLE_COULDNT_RESOLVE_HOST: return "dns";
    case CURLE_COULDNT_CONNECT: return "connect";
    case CURLE_FILESIZE_EXCEEDED: return "body_too_large";
    case CURLE_WRITE_ERROR: return too_large ? "body_too_large" : "transport";
    case CURLE_PARTIAL_FILE: return "truncated";
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR: return "connection";
    case CURLE_BAD_CONTENT_ENCODING: return "bad_encoding";
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR: return "tls";
    case CURLE_LOGIN_DENIED: return "auth";
    case CURLE_USE_SSL_FAILED: return "starttls";
    case CURLE_REMOTE_ACCESS_DENIED: return "access_denied";
    default: return "transport";
    }
}

static void finish(struct httpc_req *r, CURLcode rc)
{
    struct httpc_result res = {.ok = rc == CURLE_OK, .retry_after_s = -1, .curl_code = (int)rc};
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &res.status);
    curl_easy_getinfo(r->easy, CURLINFO_TOTAL_TIME, &res.duration_s);
    char *ct = NULL;
    curl_easy_getinfo(r->easy, CURLINFO_CONTENT_TYPE, &ct);
    res.content_type = ct;
    curl_off_t ra = -1;
    if (curl_easy_getinfo(r->easy, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
        res.retry_after_s = (double)ra;
    if (rc != CURLE_OK) {
        res.reason = classify(rc, r->too_large);
        res.error = r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc);
    }
    res.body = r->body.data ? r->body.data : "";
    res.body_len = r->body.len;
    r->fn(r->arg, &res);
    req_free(r);
}

static void check_done(struct httpc *h)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(h->multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        struct httpc_req *r = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        finish(r, m->data.result);
    }
}
