/* test_notify_email.c: the e-mail notifier (notify_email.c) against a real SMTP server,
 * tests/fakes/smtp_server.py on python3-aiosmtpd, with STARTTLS (an openssl-made certificate)
 * and AUTH. The received MIME is parsed by Python's email package (tests/fakes/mail_parse.py):
 * headers, the multipart/alternative text and HTML parts, CRLF, line lengths, an RFC 2047
 * subject. Also: the rendered message against a golden (tests/data/email/firing.eml), the
 * envelope (Bcc only there), a refused password and a server without STARTTLS failing for
 * good, SMTP 4xx retried and 5xx not, implicit TLS, certificate checks, a silent server timing
 * out, and the password never in an error. Settings go through the config loader. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "caps.h"
#include "tap.h"

#include "buf.h"
#include "clock.h"
#include "config.h"
#include "fake.h"
#include "notify_test.h"
#include "xalloc.h"

extern const struct notifier_ops email_notifier;

static char tmpdir[64];
static struct notifier_env env;

static int render(void *state, const struct notification *n, struct payload *p, char *err,
                  size_t errlen)
{
    memset(p, 0, sizeof(*p));
    buf_init(&p->body, 1u << 20);
    return email_notifier.render(state, n, p, err, errlen);
}

/* The newest message the server saved, parsed; NULL when none. */
static json_t *last_mail(const char *dir, int n, json_t **envelope)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "/usr/bin/python3 tests/fakes/mail_parse.py %s/%d.eml", dir, n);
    FILE *f = popen(cmd, "r");
    if (!f) return NULL;
    struct buf out;
    buf_init(&out, CAP_NOTIFY_WIRE);
    char chunk[4096];
    size_t k;
    while ((k = fread(chunk, 1, sizeof(chunk), f)) > 0) buf_append(&out, chunk, k);
    pclose(f);
    json_error_t e;
    json_t *j = out.data ? json_loads(out.data, 0, &e) : NULL;
    buf_free(&out);
    if (envelope) {
        snprintf(cmd, sizeof(cmd), "%s/%d.json", dir, n);
        *envelope = json_load_file(cmd, 0, &e);
    }
    return j;
}

static const char *hdr(json_t *mail, const char *name)
{
    const char *v = json_string_value(json_object_get(json_object_get(mail, "headers"), name));
    return v ? v : "";
}

static const char *part_text(json_t *mail, size_t i)
{
    const char *v = json_string_value(
        json_object_get(json_array_get(json_object_get(mail, "parts"), i), "text"));
    return v ? v : "";
}

static void test_render(void)
{
    char err[512] = "";
    struct nt_made m =
        nt_make(&email_notifier, &env,
                "url = 'smtp://127.0.0.1:25', from = 'drwatch <alerts@drwatch.test>', "
                "to = { 'DBA On-call <dba@example.org>', 'ops@example.org' }, "
                "cc = { 'lead@example.org' }, bcc = { 'audit@example.org' }, "
                "headers = { 'X-Team: dba' }",
                err, sizeof(err));
    if (!ok(m.state != NULL, "email notifier made (%s)", err)) return;
    struct nt_group g;
    nt_group_init(&g);
    struct payload p;
    is_int(render(m.state, &g.n, &p, err, sizeof(err)), 0, "rendered (%s)", err);
    ok(nt_golden("tests/data/email/firing.eml", p.body.data, p.body.len),
       "the message matches tests/data/email/firing.eml");
    is_str(p.content_type, "message/rfc822", "content type message/rfc822");
    ok(strstr(p.body.data, "Message-ID: <drwatch.") != NULL, "a Message-ID");
    struct payload other;
    g.n.group_key = "another group";
    render(m.state, &g.n, &other, err, sizeof(err));
    char *mid1 = strstr(p.body.data, "Message-ID:"), *mid2 = strstr(other.body.data, "Message-ID:");
    ok(mid1 && mid2 && strncmp(mid1, mid2, 60) != 0, "another notification has another one");
    buf_free(&other.body);
    g.n.group_key = "{}:{alertname=\"PatroniStandbyLagHigh\"}";
    ok(!strstr(p.body.data, "audit@"), "Bcc is not in the headers");
    ok(strstr(p.body.data, "Date: Mon, 10 Jun 2024 09:45:41 +0000\r\n") != NULL,
       "Date is the notification's time");
    struct payload again;
    render(m.state, &g.n, &again, err, sizeof(err));
    ok(again.body.len == p.body.len && memcmp(again.body.data, p.body.data, p.body.len) == 0,
       "a second render is the same bytes (a resend is recognisable)");
    buf_free(&again.body);
    buf_free(&p.body);
    nt_unmake(&email_notifier, &m);

    /* A non-ASCII subject is encoded; a huge group is cut, not refused. */
    nt_write_file("/tmp/drwatch-email-subject.lua",
                  "return { email_subject = function(n) return 'St\xc3\xb6rung \xe2\x9c\x93 ' .. "
                  "string.rep('lange Zeile ', 20) end, email_text = function(n) return "
                  "'line\\n.dot line\\n' .. string.rep('x', 200) .. ' \\ntrailing ' end, "
                  "email_html = function(n) return '<p>' .. html(n.alerts[1].annotations.summary) "
                  ".. '</p>' end }");
    m = nt_make(&email_notifier, &env,
                "url = 'smtp://127.0.0.1:25', from = 'J\xc3\xb6rg <alerts@drwatch.test>', "
                "to = { 'ops@example.org' }, template = '/tmp/drwatch-email-subject.lua'",
                err, sizeof(err));
    render(m.state, &g.n, &p, err, sizeof(err));
    ok(strstr(p.body.data, "Subject: =?UTF-8?B?") && strstr(p.body.data, "From: =?UTF-8?B?"),
       "non-ASCII subject and display name are RFC 2047 encoded");
    bool crlf = true;
    size_t maxline = 0, cur = 0;
    for (size_t i = 0; i < p.body.len; i++) {
        if (p.body.data[i] == '\n') {
            if (i == 0 || p.body.data[i - 1] != '\r') crlf = false;
            if (cur > maxline) maxline = cur;
            cur = 0;
        } else {
            cur++;
        }
    }
    ok(crlf && maxline <= 78, "CRLF line ends only, lines at most 78 bytes (%zu)", maxline);
    buf_free(&p.body);
    nt_unmake(&email_notifier, &m);
    unlink("/tmp/drwatch-email-subject.lua");

    ok(nt_refused(&email_notifier, &env,
                  "url = 'smtp://x', from = 'a@b', to = { 'x@y\\r\\nRCPT TO:<evil@z>' }", err,
                  sizeof(err)) &&
           strstr(err, "not an e-mail address"),
       "an address with CR LF is refused (%s)", err);
    ok(nt_refused(&email_notifier, &env,
                  "url = 'smtp://x', from = 'a@b', to = { 'x@y' }, headers = { 'Subject: x' }", err,
                  sizeof(err)),
       "a header drwatch sets itself is refused (%s)", err);
    ok(nt_refused(&email_notifier, &env, "url = 'http://x', from = 'a@b', to = { 'x@y' }", err,
                  sizeof(err)),
       "an http URL is refused (%s)", err);
    ok(nt_refused(&email_notifier, &env,
                  "url = 'smtp://x', from = 'a@b', to = { 'x@y' }, username = 'u'", err,
                  sizeof(err)),
       "username without password_file is refused (%s)", err);
    ok(nt_refused(&email_notifier, &env,
                  "url = 'smtp://x', from = 'a@b', to = { 'x@y' }, auth = 'CRAM'", err,
                  sizeof(err)),
       "an unknown auth mechanism is refused (%s)", err);
}

static pid_t start_smtp(int port, const char *dir, const char *const *extra)
{
    char portbuf[16];
    snprintf(portbuf, sizeof(portbuf), "%d", port);
    char *argv[16] = {"/usr/bin/python3", "tests/fakes/smtp_server.py", portbuf, (char *)dir};
    for (size_t i = 0; extra && extra[i] && i < 10; i++) argv[4 + i] = (char *)extra[i];
    return spawn_ready(argv);
}

struct server {
    int port;
    pid_t pid;
    char dir[128];
    int n; /* messages expected so far */
};

static void send_case(struct server *s, const char *settings, enum send_outcome want,
                      const char *reason, const char *what)
{
    char err[512] = "", *cfg;
    struct nt_group g;
    nt_group_init(&g);
    cfg = xasprintf("url = 'smtp://127.0.0.1:%d', from = 'alerts@drwatch.test', %s", s->port,
                    settings);
    struct nt_made m = nt_make(&email_notifier, &env, cfg, err, sizeof(err));
    free(cfg);
    if (!ok(m.state != NULL, "%s: made (%s)", what, err)) return;
    struct payload p;
    render(m.state, &g.n, &p, err, sizeof(err));
    struct loop *l = env.loop;
    struct nt_result r = nt_send(l, &email_notifier, m.state, &p, 10000);
    ok(r.done && r.outcome == want && (!reason || strcmp(r.reason, reason) == 0), "%s: %s %s (%s)",
       what, nt_outcome_name(r.outcome), r.reason, r.detail);
    ok(!strstr(r.detail, "s3cret") && !strstr(r.detail, "wrongpw"),
       "  the password is not in the detail");
    if (r.outcome == SEND_OK) s->n++;
    buf_free(&p.body);
    nt_unmake(&email_notifier, &m);
}

static void test_starttls_auth(struct server *s, const char *pwfile, const char *badpw,
                               const char *ca)
{
    char *base = xasprintf("to = { 'DBA On-call <dba@example.org>', 'ops@example.org' }, cc = { "
                           "'lead@example.org' }, bcc = { 'audit@example.org' }, username = "
                           "'alerts', password_file = '%s', ca_file = '%s'",
                           pwfile, ca);
    send_case(s, base, SEND_OK, "ok", "STARTTLS + AUTH");
    json_t *env_json = NULL;
    json_t *mail = last_mail(s->dir, s->n, &env_json);
    ok(mail && json_array_size(json_object_get(mail, "defects")) == 0,
       "the server's message parses without defects");
    is_str(json_string_value(json_object_get(mail, "multipart")), "alternative",
           "multipart/alternative");
    json_t *parts = json_object_get(mail, "parts");
    ok(json_array_size(parts) == 2 &&
           strcmp(json_string_value(json_object_get(json_array_get(parts, 0), "type")),
                  "text/plain") == 0 &&
           strcmp(json_string_value(json_object_get(json_array_get(parts, 1), "type")),
                  "text/html") == 0,
       "a text part then an HTML part");
    ok(strstr(part_text(mail, 0), "PatroniStandbyLagHigh: Standby leader pg-golddr-0") &&
           strstr(part_text(mail, 0), "second line \xc3\xbcn\xc3\xaf"),
       "the text part decodes to the template's text, UTF-8 intact");
    ok(strstr(part_text(mail, 1), "Standby lag &lt;b&gt;high&lt;/b&gt; &amp; rising") != NULL,
       "the HTML part escapes values");
    ok(strstr(part_text(mail, 1), "href=\"https://grafana.example/d/drwatch\"") &&
           strstr(part_text(mail, 1), "href=\"http://drwatch.example:8488\""),
       "links to Grafana and the status page");
    is_str(hdr(mail, "Subject"), "[FIRING:2] PatroniStandbyLagHigh (critical)", "Subject");
    is_str(hdr(mail, "To"), "DBA On-call <dba@example.org>, ops@example.org", "To");
    is_str(hdr(mail, "Cc"), "lead@example.org", "Cc");
    is_str(hdr(mail, "From"), "alerts@drwatch.test", "From");
    ok(strstr(hdr(mail, "Date"), "10 Jun 2024 09:45:41") != NULL, "Date (%s)", hdr(mail, "Date"));
    ok(strncmp(hdr(mail, "Message-ID"), "<drwatch.", 9) == 0, "Message-ID (%s)",
       hdr(mail, "Message-ID"));
    ok(json_is_true(json_object_get(mail, "crlf_only")) &&
           json_integer_value(json_object_get(mail, "max_line")) <= 998,
       "CRLF only, lines under 998");
    json_t *rcpt = json_object_get(env_json, "rcpt_tos");
    ok(json_array_size(rcpt) == 4 &&
           strcmp(json_string_value(json_array_get(rcpt, 3)), "audit@example.org") == 0,
       "the envelope has To, Cc and Bcc");
    ok(json_is_true(json_object_get(env_json, "tls")) &&
           strcmp(json_string_value(json_object_get(env_json, "auth")), "alerts") == 0,
       "sent over TLS, authenticated as alerts");
    is_str(json_string_value(json_object_get(env_json, "mail_from")), "alerts@drwatch.test",
           "MAIL FROM");
    json_decref(mail);
    json_decref(env_json);
    free(base);

    /* The manager's plain-text fallback (after a template failure) becomes a plain mail. */
    char err[512];
    char *cfg = xasprintf("url = 'smtp://127.0.0.1:%d', from = 'alerts@drwatch.test', to = { "
                          "'ops@example.org' }, username = 'alerts', password_file = '%s', "
                          "ca_file = '%s'",
                          s->port, pwfile, ca);
    struct nt_made m = nt_make(&email_notifier, &env, cfg, err, sizeof(err));
    free(cfg);
    struct payload tp = {0};
    buf_init(&tp.body, CAP_NOTIFY_PAYLOAD);
    buf_puts(&tp.body, "[firing] 2 alert(s) for dba (group x)\n- firing {alertname=\"X\"}\n");
    snprintf(tp.content_type, sizeof(tp.content_type), "text/plain; charset=utf-8");
    snprintf(tp.dedupe_key, sizeof(tp.dedupe_key), "0123-4567-89");
    struct nt_result r = nt_send(env.loop, &email_notifier, m.state, &tp, 10000);
    if (r.outcome == SEND_OK) s->n++;
    mail = last_mail(s->dir, s->n, NULL);
    ok(r.outcome == SEND_OK &&
           strcmp(hdr(mail, "Subject"), "[firing] 2 alert(s) for dba (group x)") == 0 &&
           strstr(part_text(mail, 0), "- firing {alertname=\"X\"}"),
       "a plain-text payload is sent as a plain mail (%s)", hdr(mail, "Subject"));
    json_decref(mail);
    buf_free(&tp.body);
    nt_unmake(&email_notifier, &m);

    char *set = xasprintf("to = { 'ops@example.org' }, username = 'alerts', password_file = "
                          "'%s', ca_file = '%s'",
                          badpw, ca);
    send_case(s, set, SEND_FAIL, "smtp_auth", "a wrong password fails for good");
    free(set);
    set =
        xasprintf("to = { 'ops@example.org' }, username = 'alerts', password_file = '%s'", pwfile);
    send_case(s, set, SEND_FAIL, "smtp_tls_verify", "an unknown certificate fails for good");
    free(set);
    set = xasprintf("to = { 'ops@example.org' }, ca_file = '%s'", ca);
    send_case(s, set, SEND_FAIL, "smtp_530", "no AUTH where the server wants it fails");
    free(set);
    static const struct {
        const char *rcpt;
        enum send_outcome want;
        const char *reason;
    } replies[] = {{"reject@example.org", SEND_FAIL, "smtp_550"},
                   {"busy@example.org", SEND_RETRY, "smtp_451"},
                   {"baddata@example.org", SEND_FAIL, "smtp_554"},
                   {"slowdata@example.org", SEND_RETRY, "smtp_451"}};
    for (size_t i = 0; i < ARRAY_LEN(replies); i++) {
        set = xasprintf("to = { '%s' }, username = 'alerts', password_file = '%s', ca_file = '%s'",
                        replies[i].rcpt, pwfile, ca);
        char what[96];
        snprintf(what, sizeof(what), "RCPT %s", replies[i].rcpt);
        send_case(s, set, replies[i].want, replies[i].reason, what);
        free(set);
    }
}

/* A server that accepts connections and never says a word. */
static int silent_listener(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    *port = fake_free_port();
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)*port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 8) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/drwatch-email-XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    struct loop *l = loop_new();
    struct httpc *h = httpc_new(l);
    env = (struct notifier_env){
        .loop = l, .http = h, .templates_dir = "alerts/templates", .timeout_ms = 5000};
    test_render();

    char cmd[512], cert[128], key[128], pw[128], badpw[128];
    snprintf(cert, sizeof(cert), "%s/cert.pem", tmpdir);
    snprintf(key, sizeof(key), "%s/key.pem", tmpdir);
    snprintf(pw, sizeof(pw), "%s/password", tmpdir);
    snprintf(badpw, sizeof(badpw), "%s/badpassword", tmpdir);
    nt_write_file(pw, "s3cret\n");
    nt_write_file(badpw, "wrongpw\n");
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s -days 2 -subj "
             "/CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1",
             key, cert);
    if (!ok(system(cmd) == 0, "openssl made a certificate")) return done_testing();

    struct server tls = {.port = fake_free_port()};
    snprintf(tls.dir, sizeof(tls.dir), "%s/mail-tls", tmpdir);
    const char *tls_args[] = {"--cert", cert,         "--key",  key, "--user",
                              "alerts", "--password", "s3cret", NULL};
    tls.pid = start_smtp(tls.port, tls.dir, tls_args);
    if (ok(tls.pid > 0, "aiosmtpd with STARTTLS and AUTH on port %d", tls.port))
        test_starttls_auth(&tls, pw, badpw, cert);
    fake_stop(tls.pid);

    struct server plain = {.port = fake_free_port()};
    snprintf(plain.dir, sizeof(plain.dir), "%s/mail-plain", tmpdir);
    plain.pid = start_smtp(plain.port, plain.dir, NULL);
    if (ok(plain.pid > 0, "aiosmtpd without TLS on port %d", plain.port)) {
        send_case(&plain, "to = { 'ops@example.org' }", SEND_FAIL, "smtp_starttls",
                  "require_tls (the default) refuses a server without STARTTLS");
        send_case(&plain, "to = { 'ops@example.org' }, require_tls = false", SEND_OK, "ok",
                  "require_tls = false sends in plain text");
        is_int(plain.n, 1, "one message arrived");
    }
    fake_stop(plain.pid);

    struct server implicit = {.port = fake_free_port()};
    snprintf(implicit.dir, sizeof(implicit.dir), "%s/mail-smtps", tmpdir);
    const char *smtps_args[] = {"--cert", cert, "--key", key, "--implicit-tls", NULL};
    implicit.pid = start_smtp(implicit.port, implicit.dir, smtps_args);
    if (ok(implicit.pid > 0, "aiosmtpd with implicit TLS on port %d", implicit.port)) {
        char err[512] = "";
        char *cfg = xasprintf("url = 'smtps://127.0.0.1:%d', from = 'alerts@drwatch.test', "
                              "to = { 'ops@example.org' }, ca_file = '%s'",
                              implicit.port, cert);
        struct nt_made m = nt_make(&email_notifier, &env, cfg, err, sizeof(err));
        struct nt_group g;
        nt_group_init(&g);
        struct payload p;
        render(m.state, &g.n, &p, err, sizeof(err));
        struct nt_result r = nt_send(l, &email_notifier, m.state, &p, 10000);
        ok(r.outcome == SEND_OK, "smtps:// delivers (%s %s)", r.reason, r.detail);
        json_t *env_json = NULL;
        json_t *mail = last_mail(implicit.dir, 1, &env_json);
        ok(json_is_true(json_object_get(env_json, "tls")), "over TLS");
        json_decref(mail);
        json_decref(env_json);
        buf_free(&p.body);
        nt_unmake(&email_notifier, &m);
        free(cfg);
    }
    fake_stop(implicit.pid);

    struct server none = {.port = fake_free_port()};
    send_case(&none, "to = { 'ops@example.org' }", SEND_RETRY, "connect",
              "a closed port is retried");
    int silent_port;
    int fd = silent_listener(&silent_port);
    struct server silent = {.port = silent_port};
    env.timeout_ms = 500;
    int64_t t0 = time_mono_ms();
    send_case(&silent, "to = { 'ops@example.org' }", SEND_RETRY, "timeout",
              "a server that never greets times out");
    ok(time_mono_ms() - t0 < 3000, "at the receiver's timeout");
    close(fd);

    httpc_free(h);
    loop_free(l);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    if (system(cmd) != 0) diag("could not remove %s", tmpdir);
    curl_global_cleanup();
    return done_testing();
}
