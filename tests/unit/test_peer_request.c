/* test_peer_request.c: the request head of the peer endpoint (site/peer_request.h): what real
 * clients send is read, every malformed shape is refused, a head is incomplete until its blank
 * line comes and refused past the cap, the same bytes give the same verdict however they are
 * split, and a message's Content-Length is read strictly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peer_request.h"
#include "tap.h"
#include "xalloc.h"

struct rcase {
    const char *name, *data;
    size_t len; /* 0: strlen(data) */
    enum peer_request_status want;
    const char *method, *path; /* when OK */
};

#define OK_  PEER_REQUEST_OK
#define BAD_ PEER_REQUEST_BAD
#define INC_ PEER_REQUEST_INCOMPLETE

static const struct rcase cases[] = {
    {"curl", "GET /peer/v1/view HTTP/1.1\r\nHost: 127.0.0.1:8489\r\nAccept: */*\r\n\r\n", 0, OK_,
     "GET", "/peer/v1/view"},
    {"no headers, HTTP/1.0", "GET /peer/v1/view HTTP/1.0\r\n\r\n", 0, OK_, "GET", "/peer/v1/view"},
    {"bare LF", "GET /peer/v1/view HTTP/1.1\nHost: x\n\n", 0, OK_, "GET", "/peer/v1/view"},
    {"the query is cut off", "GET /peer/v1/view?a=1&b HTTP/1.1\r\n\r\n", 0, OK_, "GET",
     "/peer/v1/view"},
    {"another method", "POST /x HTTP/1.1\r\nContent-Length: 2\r\n\r\nab", 0, OK_, "POST", "/x"},
    {"an empty value and a tab", "GET / HTTP/1.1\r\nX-A:\r\nX-B:\ta b\r\n\r\n", 0, OK_, "GET", "/"},
    {"obs-text in a value", "GET / HTTP/1.1\r\nX-A: caf\xc3\xa9\r\n\r\n", 0, OK_, "GET", "/"},
    {"nothing yet", "", 0, INC_, NULL, NULL},
    {"a request line only", "GET /peer/v1/view HTTP/1.1\r\n", 0, INC_, NULL, NULL},
    {"no blank line yet", "GET / HTTP/1.1\r\nHost: x\r\n\r", 0, INC_, NULL, NULL},
    {"a blank line first", "\r\nGET / HTTP/1.1\r\n\r\n", 0, BAD_, NULL, NULL},
    {"HTTP/2", "GET / HTTP/2.0\r\n\r\n", 0, BAD_, NULL, NULL},
    {"HTTP/0.9 (no version)", "GET /\r\n\r\n", 0, BAD_, NULL, NULL},
    {"lower-case version", "GET / http/1.1\r\n\r\n", 0, BAD_, NULL, NULL},
    {"two spaces", "GET  / HTTP/1.1\r\n\r\n", 0, BAD_, NULL, NULL},
    {"a tab for a space", "GET\t/ HTTP/1.1\r\n\r\n", 0, BAD_, NULL, NULL},
    {"trailing space", "GET / HTTP/1.1 \r\n\r\n", 0, BAD_, NULL, NULL},
    {"a method too long", "ABCDEFGHIJKLMNOP / HTTP/1.1\r\n\r\n", 0, BAD_, NULL, NULL},
    {"a method not a token", "G(T / HTTP/1.1\r\n\r\n", 0, BAD_, NULL, NULL},
    {"a control byte in the target", "GET /a\x01 HTTP/1.1\r\n\r\n", 0, BAD_, NULL, NULL},
    {"a NUL in the target", "GET /a\0b HTTP/1.1\r\n\r\n", 23, BAD_, NULL, NULL},
    {"a space before the colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 0, BAD_, NULL, NULL},
    {"no colon", "GET / HTTP/1.1\r\nHost x\r\n\r\n", 0, BAD_, NULL, NULL},
    {"obs-fold", "GET / HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n", 0, BAD_, NULL, NULL},
    {"a bare CR in a value", "GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n", 0, BAD_, NULL, NULL},
    {"a NUL in a value", "GET / HTTP/1.1\r\nX-A: a\0b\r\n\r\n", 29, BAD_, NULL, NULL},
    {"a bad line refused before the end", "GET / HTTP/1.1\r\nnot a header\r\n", 0, BAD_, NULL,
     NULL},
    {"a TLS record", "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\n", 12, BAD_, NULL, NULL},
};

static void run_case(const struct rcase *c)
{
    size_t len = c->len ? c->len : strlen(c->data);
    struct peer_request rq;
    enum peer_request_status st = peer_request_parse(c->data, len, &rq);
    is_int(st, c->want, "%s: %s", c->name,
           c->want == OK_    ? "read"
           : c->want == BAD_ ? "refused"
                             : "incomplete");
    if (st == OK_ && c->want == OK_) {
        is_str(rq.method, c->method, "%s: method", c->name);
        is_str(rq.path, c->path, "%s: path", c->name);
    }
}

/* The head as a whole and one byte at a time (as a slow client sends it) agree. */
static void split_reads(void)
{
    const char *head = "GET /peer/v1/view HTTP/1.1\r\nHost: x\r\n\r\n";
    size_t n = strlen(head), verdict_at = 0;
    struct peer_request rq;
    for (size_t k = 0; k <= n && !verdict_at; k++)
        if (peer_request_parse(head, k, &rq) != INC_) verdict_at = k;
    is_int(verdict_at, n, "read a byte at a time: incomplete until the last byte");
    is_int(rq.head_len, n, "and the head ends there");
    char with_body[128];
    snprintf(with_body, sizeof(with_body), "%sBODY", head);
    ok(peer_request_parse(with_body, strlen(with_body), &rq) == OK_ && rq.head_len == n,
       "bytes after the head are not looked at");
}

/* The framing of a message's body: Content-Length is read, a Transfer-Encoding noted. */
static void framing(void)
{
    struct peer_request rq;
    const char *get = "GET /peer/v1/view HTTP/1.1\r\nHost: x\r\n\r\n";
    ok(peer_request_parse(get, strlen(get), &rq) == OK_ && rq.content_length == -1 &&
           !rq.transfer_encoding,
       "without the fields: no length, no transfer coding");
    const char *post = "POST /peer/v1/confirm HTTP/1.1\r\ncontent-LENGTH:  123 \r\n\r\n";
    ok(peer_request_parse(post, strlen(post), &rq) == OK_ && rq.content_length == 123,
       "Content-Length in any case, blanks around the digits: 123");
    const char *zero = "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n";
    ok(peer_request_parse(zero, strlen(zero), &rq) == OK_ && rq.content_length == 0,
       "0 is a length");
    const char *te = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    ok(peer_request_parse(te, strlen(te), &rq) == OK_ && rq.transfer_encoding,
       "a Transfer-Encoding is noted (the endpoint answers 411)");
    static const char *const bad[] = {
        "POST / HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length:\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 1234567890123456789\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        is_int(peer_request_parse(bad[i], strlen(bad[i]), &rq), BAD_,
               "a malformed or repeated Content-Length is refused (%zu)", i);
}

/* A head that does not end within PEER_REQUEST_MAX bytes is refused; one that does is read. */
static void cap(void)
{
    char *big = xmalloc(PEER_REQUEST_MAX + 64);
    int w = snprintf(big, PEER_REQUEST_MAX, "GET / HTTP/1.1\r\nX-Pad: ");
    memset(big + w, 'a', PEER_REQUEST_MAX + 64 - (size_t)w);
    struct peer_request rq;
    is_int(peer_request_parse(big, PEER_REQUEST_MAX - 1, &rq), INC_,
           "one byte under the cap without an end: incomplete");
    is_int(peer_request_parse(big, PEER_REQUEST_MAX, &rq), BAD_,
           "at the cap without an end: refused");
    memcpy(big + PEER_REQUEST_MAX - 4, "\r\n\r\n", 4);
    is_int(peer_request_parse(big, PEER_REQUEST_MAX + 64, &rq), OK_,
           "a head of exactly the cap is read");
    memcpy(big + PEER_REQUEST_MAX - 4, "aa\r\n", 4);
    memcpy(big + PEER_REQUEST_MAX, "\r\n", 2);
    is_int(peer_request_parse(big, PEER_REQUEST_MAX + 64, &rq), BAD_,
           "one that ends a byte past the cap is refused");
    free(big);
}

int main(void)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) run_case(&cases[i]);
    split_reads();
    framing();
    cap();
    return done_testing();
}
