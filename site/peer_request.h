/* peer_request.h: the head of the one HTTP/1.x request a client sends the peer endpoint
 * (site/peer_server.h), read from the TLS stream.
 *
 * A pure function over the bytes received so far, so that it can be fuzzed
 * (tests/fuzz/fuzz_peer_request.c) and tested without a socket. It takes only what the endpoint
 * needs: the request line (method, request target, HTTP/1.x) of a complete header block, and
 * of its header fields (each checked for shape, RFC 9112) only what framing a body needs:
 * Content-Length, and whether a Transfer-Encoding was sent (the endpoint reads bodies only by
 * their length, so it refuses one). The endpoint answers one request per connection and
 * closes. */
#ifndef DRWATCH_PEER_REQUEST_H
#define DRWATCH_PEER_REQUEST_H

#include <stddef.h>

#define PEER_REQUEST_MAX        8192 /* the header block, request line and blank line included */
#define PEER_REQUEST_METHOD_MAX 15
#define PEER_REQUEST_TARGET_MAX 255

enum peer_request_status {
    PEER_REQUEST_INCOMPLETE, /* the header block has not ended yet: read more */
    PEER_REQUEST_OK,
    PEER_REQUEST_BAD, /* malformed, or no end within PEER_REQUEST_MAX bytes: answer 400 */
};

struct peer_request {
    char method[PEER_REQUEST_METHOD_MAX + 1]; /* a token, case kept: "GET" */
    char path[PEER_REQUEST_TARGET_MAX + 1];   /* the target up to its query: "/peer/v1/view" */
    size_t head_len;                          /* bytes of the header block */
    long long content_length;                 /* -1: no Content-Length field */
    int transfer_encoding;                    /* 1: a Transfer-Encoding field came */
};

/* Parses data[0..len), which need not be NUL-terminated and may hold any bytes. Lines end with
 * LF, optionally preceded by CR; the header block ends with the first empty line. The request
 * line is METHOD SP TARGET SP HTTP/1.<digit> (single spaces; a target of visible ASCII); each
 * header line is NAME ":" VALUE with a token name and no control character but HTAB in the
 * value (obs-fold refused). Content-Length (any case) is 1 to 18 digits with optional blanks
 * around them; a second Content-Length field is malformed. Bytes after the header block are not
 * looked at.
 * Returns INCOMPLETE while no empty line has come and len < PEER_REQUEST_MAX; BAD for a
 * malformed header block or none within PEER_REQUEST_MAX bytes (as soon as a complete line is
 * malformed: the verdict never changes as bytes are added); OK with *out filled. *out is
 * unspecified after the others. */
enum peer_request_status peer_request_parse(const char *data, size_t len, struct peer_request *out);

#endif
