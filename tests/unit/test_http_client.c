/* test_http_client.c: the curl-multi HTTP client on the loop against tests/fakes/http_fake.py:
 * statuses, deadlines, body caps, gzip, truncated and dropped connections, Retry-After, bearer
 * auth, cancellation, concurrency (ten 300 ms requests take about 300 ms, not 3 s), and
 * streamed bodies handed over line by line as they arrive (a watch). */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

#include "clock.h"
#include "fake.h"
#include "fileio.h"
#include "http_client.h"
#include "loop.h"
#include "xalloc.h"

struct call {
    struct loop *loop;
    int *pending;
    int done;
    int ok;
    long status;
    char reason[32];
    char body[256];
    size_t body_len;
    double retry_after;
};

static void on_done(void *arg, const struct httpc_result *r)
{
    struct call *c = arg;
    c->done++;
    c->ok = r->ok;
    c->status = r->status;
    snprintf(c->reason, sizeof(c->reason), "%s", r->reason ? r->reason : "");
    snprintf(c->body, sizeof(c->body), "%s", r->body);
    c->body_len = r->body_len;
    c->retry_after = r->retry_after_s;
    if (--*c->pending == 0) loop_stop(c->loop);
}

/* Runs one request to completion. */
static struct call fetch(struct loop *l, struct httpc *h, struct httpc_opts o)
{
    int pending = 1;
    struct call c = {.loop = l, .pending = &pending};
    if (!o.timeout_ms) o.timeout_ms = 3000;
    if (!httpc_start(h, &o, on_done, &c)) return c;
    loop_run(l);
    return c;
}

static char *url(int port, const char *path)
{
    return xasprintf("http://127.0.0.1:%d%s", port, path);
}

static void test_basic(struct loop *l, struct httpc *h, int port)
{
    char *u = url(port, "/ok");
    struct call c = fetch(l, h, (struct httpc_opts){.url = u});
    ok(c.done == 1 && c.ok && c.status == 200 && strcmp(c.body, "hello\n") == 0,
       "GET /ok: 200 hello");
    free(u);
    u = url(port, "/status/503");
    c = fetch(l, h, (struct httpc_opts){.url = u});
    ok(c.ok && c.status == 503, "a 503 is a response, not a transport failure");
    free(u);
    u = url(port, "/retry-after");
    c = fetch(l, h, (struct httpc_opts){.url = u});
    ok(c.status == 429 && c.retry_after == 7, "429 with Retry-After: 7 (%g)", c.retry_after);
    free(u);
    u = url(port, "/headers");
    c = fetch(l, h, (struct httpc_opts){.url = u, .bearer_token = "s3cret"});
    ok(strstr(c.body, "Authorization: Bearer s3cret") != NULL, "bearer token sent");
    free(u);
    u = url(port, "/echo");
    c = fetch(l, h, (struct httpc_opts){.url = u, .method = "POST", .body = "ping", .body_len = 4});
    ok(c.status == 200 && strcmp(c.body, "ping") == 0, "POST body sent");
    free(u);
}

static void test_failures(struct loop *l, struct httpc *h, int port)
{
    char *u = url(port, "/slow?ms=2000");
    int64_t t0 = time_mono_ms();
    struct call c = fetch(l, h, (struct httpc_opts){.url = u, .timeout_ms = 300});
    int64_t took = time_mono_ms() - t0;
    ok(!c.ok && strcmp(c.reason, "timeout") == 0 && took < 1500,
       "a slow target times out at the deadline (%s, %lld ms)", c.reason, (long long)took);
    free(u);
    u = url(port, "/hang");
    c = fetch(l, h, (struct httpc_opts){.url = u, .timeout_ms = 300});
    ok(!c.ok && strcmp(c.reason, "timeout") == 0, "a hanging target times out");
    free(u);
    u = url(port, "/big?bytes=2000000");
    c = fetch(l, h, (struct httpc_opts){.url = u, .max_body = 100000});
    ok(!c.ok && strcmp(c.reason, "body_too_large") == 0, "a body over the cap is refused (%s)",
       c.reason);
    free(u);
    /* Without a Content-Length the cap can only be met on the way: the transfer stops there. */
    u = url(port, "/chunked?bytes=200000000");
    c = fetch(l, h, (struct httpc_opts){.url = u, .max_body = 100000});
    ok(!c.ok && strcmp(c.reason, "body_too_large") == 0,
       "a chunked body with no length is cut at the cap (%s)", c.reason);
    free(u);
    u = url(port, "/truncate");
    c = fetch(l, h, (struct httpc_opts){.url = u});
    ok(!c.ok && strcmp(c.reason, "truncated") == 0, "a body cut short is reported (%s)", c.reason);
    free(u);
    u = url(port, "/close");
    c = fetch(l, h, (struct httpc_opts){.url = u});
    ok(!c.ok && strcmp(c.reason, "connection") == 0, "a dropped connection is reported (%s)",
       c.reason);
    free(u);
    u = url(fake_free_port(), "/ok");
    c = fetch(l, h, (struct httpc_opts){.url = u});
    ok(!c.ok && strcmp(c.reason, "connect") == 0, "a closed port is a connect error (%s)",
       c.reason);
    free(u);
}

static void test_gzip(struct loop *l, struct httpc *h, int port)
{
    char *u = url(port, "/gzip");
    struct call c = fetch(l, h, (struct httpc_opts){.url = u, .accept_gzip = 1});
    ok(c.ok && c.body_len == 100000, "a gzip body is decoded (%zu bytes)", c.body_len);
    c = fetch(l, h, (struct httpc_opts){.url = u, .accept_gzip = 1, .max_body = 50000});
    ok(!c.ok && strcmp(c.reason, "body_too_large") == 0,
       "the cap applies to decoded bytes (a gzip bomb stops at the cap)");
    free(u);
}

static void test_concurrency_and_cancel(struct loop *l, struct httpc *h, int port)
{
    char *u = url(port, "/slow?ms=300");
    int pending = 10;
    struct call c[11];
    int64_t t0 = time_mono_ms();
    for (int i = 0; i < 10; i++) {
        c[i] = (struct call){.loop = l, .pending = &pending};
        if (!httpc_start(h, &(struct httpc_opts){.url = u, .timeout_ms = 3000}, on_done, &c[i]))
            ok(0, "request %d started", i);
    }
    /* One more, cancelled at once: its callback must never run. */
    c[10] = (struct call){.loop = l, .pending = &pending};
    httpc_cancel(
        httpc_start(h, &(struct httpc_opts){.url = u, .timeout_ms = 3000}, on_done, &c[10]));
    loop_run(l);
    int64_t took = time_mono_ms() - t0;
    int all = 1;
    for (int i = 0; i < 10; i++) all &= c[i].done == 1 && c[i].status == 200;
    ok(all, "ten concurrent requests all answered");
    ok(took < 1500, "ten 300 ms requests ran concurrently: %lld ms", (long long)took);
    ok(c[10].done == 0, "a cancelled request never calls back");
    free(u);
}

/* Streaming (httpc_opts.on_line, what a Kubernetes watch uses). */
struct stream {
    struct loop *loop;
    struct httpc *h;
    struct httpc_req *req;
    int port;
    int lines, done, ok;
    long status;
    char reason[32], body[64], got[8][32];
    int64_t t0, first_line_ms, done_ms;
    int cancel_at;     /* cancel the stream on this line (0: never) */
    int start_at;      /* start another request from this line (0: never) */
    struct call inner; /* that request */
    int inner_pending;
};

static void on_stream_line(void *arg, const char *line, size_t len)
{
    struct stream *s = arg;
    if (s->lines < 8) snprintf(s->got[s->lines], sizeof(s->got[0]), "%.*s", (int)len, line);
    if (s->lines++ == 0) s->first_line_ms = time_mono_ms() - s->t0;
    if (s->start_at == s->lines) {
        char *u = url(s->port, "/ok");
        s->inner = (struct call){.loop = s->loop, .pending = &s->inner_pending};
        s->inner_pending = 2; /* the loop stops when the stream is done, not this */
        if (!httpc_start(s->h, &(struct httpc_opts){.url = u, .timeout_ms = 3000}, on_done,
                         &s->inner))
            diag("a request started from a line was refused");
        free(u);
    }
    if (s->cancel_at == s->lines) {
        httpc_cancel(s->req);
        loop_stop(s->loop);
    }
}

static void on_stream_done(void *arg, const struct httpc_result *r)
{
    struct stream *s = arg;
    s->done++;
    s->ok = r->ok;
    s->status = r->status;
    s->done_ms = time_mono_ms() - s->t0;
    snprintf(s->reason, sizeof(s->reason), "%s", r->reason ? r->reason : "");
    snprintf(s->body, sizeof(s->body), "%s", r->body);
    loop_stop(s->loop);
}

static void stream(struct stream *s, const char *path, size_t max_body)
{
    char *u = url(s->port, path);
    s->t0 = time_mono_ms();
    struct httpc_opts o = {
        .url = u, .timeout_ms = 5000, .max_body = max_body, .on_line = on_stream_line};
    s->req = httpc_start(s->h, &o, on_stream_done, s);
    if (s->req) loop_run(s->loop);
    free(u);
}

static void test_streaming(struct loop *l, struct httpc *h, int port)
{
    struct stream s = {.loop = l, .h = h, .port = port, .start_at = 2};
    stream(&s, "/lines?n=4&ms=200", 0);
    ok(s.lines == 4 && strcmp(s.got[0], "line 0") == 0 && strcmp(s.got[1], "line 1") == 0 &&
           strcmp(s.got[3], "line 3") == 0,
       "four lines, each sent in two chunks, come whole, without \\n or \\r\\n (%d: %s, %s)",
       s.lines, s.got[0], s.got[1]);
    ok(s.first_line_ms < s.done_ms - 400,
       "the first line arrives as it is sent (%lld ms), not with the end (%lld ms)",
       (long long)s.first_line_ms, (long long)s.done_ms);
    ok(s.done == 1 && s.ok && s.status == 200 && s.body[0] == '\0',
       "done comes once at the end: 200, nothing left over");
    ok(s.inner.done == 1 && s.inner.status == 200,
       "a request started from inside a line's callback runs (curl is not re-entered)");

    s = (struct stream){.loop = l, .h = h, .port = port, .cancel_at = 2};
    stream(&s, "/lines?n=5&ms=50&hold=1", 0);
    ok(s.lines == 2 && s.done == 0,
       "a stream cancelled from its line callback stops there: "
       "no more lines, no done (%d lines)",
       s.lines);

    s = (struct stream){.loop = l, .h = h, .port = port};
    stream(&s, "/longline?bytes=200000", 1000);
    ok(s.lines == 0 && s.done == 1 && !s.ok && strcmp(s.reason, "body_too_large") == 0,
       "a line that does not end within the cap fails the stream (%s)", s.reason);

    s = (struct stream){.loop = l, .h = h, .port = port};
    stream(&s, "/status/503", 0);
    ok(s.lines == 0 && s.done == 1 && s.status == 503 && strcmp(s.body, "status 503\n") == 0,
       "another status's body is not streamed: done gets it whole");
}

/* Mail (struct httpc_mail) on the same multi, against tests/fakes/smtp_server.py without TLS:
 * the envelope and message arrive, SMTP reply codes come back as the status, and requiring
 * STARTTLS from a server that does not offer it fails with reason "starttls". */
static void test_mail(struct loop *l, struct httpc *h)
{
    int port = fake_free_port();
    char portbuf[16], dir[64] = "/tmp/drwatch-httpc-mail-XXXXXX";
    snprintf(portbuf, sizeof(portbuf), "%d", port);
    if (!mkdtemp(dir)) return;
    char *argv[] = {"/usr/bin/python3", "tests/fakes/smtp_server.py", portbuf, dir, NULL};
    pid_t smtp = spawn_ready(argv);
    if (!ok(smtp > 0, "smtp server started on port %d", port)) return;
    char *u = xasprintf("smtp://127.0.0.1:%d/drwatch.test", port);
    static const char msg[] = "From: a@drwatch.test\r\nTo: b@example.org\r\nSubject: hi\r\n\r\n"
                              ".a line starting with a dot\r\nbye\r\n";
    const char *rcpt[] = {"b@example.org", "c@example.org", NULL};
    struct httpc_mail m = {.from = "a@drwatch.test", .rcpt = rcpt};
    struct httpc_opts o = {.url = u, .body = msg, .body_len = sizeof(msg) - 1, .mail = &m};
    struct call c = fetch(l, h, o);
    ok(c.ok && c.status == 250, "a mail is sent: ok, SMTP status %ld", c.status);
    char *saved = xasprintf("%s/1.eml", dir), *got = NULL;
    size_t len = 0;
    ok(file_read_all(saved, 1 << 20, &got, &len) == 0 && len == sizeof(msg) - 1 &&
           memcmp(got, msg, len) == 0,
       "the server received the message byte for byte (dot-stuffing undone)");
    free(got);
    free(saved);
    const char *bad[] = {"reject@example.org", NULL};
    m.rcpt = bad;
    c = fetch(l, h, o);
    ok(!c.ok && c.status == 550, "a refused recipient: SMTP status %ld (%s)", c.status, c.reason);
    m.rcpt = rcpt;
    m.require_tls = 1;
    c = fetch(l, h, o);
    ok(!c.ok && strcmp(c.reason, "starttls") == 0, "STARTTLS required but not offered: %s",
       c.reason);
    free(u);
    fake_stop(smtp);
    char *rm = xasprintf("rm -rf %s", dir);
    if (system(rm) != 0) diag("could not remove %s", dir);
    free(rm);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int port = fake_free_port();
    pid_t fake = fake_start("http_fake.py", port);
    if (!ok(fake > 0, "http fake started on port %d", port)) return done_testing();
    struct loop *l = loop_new();
    struct httpc *h = httpc_new(l);
    test_basic(l, h, port);
    test_failures(l, h, port);
    test_gzip(l, h, port);
    test_concurrency_and_cancel(l, h, port);
    test_streaming(l, h, port);
    test_mail(l, h);
    httpc_free(h);
    loop_free(l);
    fake_stop(fake);
    curl_global_cleanup();
    return done_testing();
}
