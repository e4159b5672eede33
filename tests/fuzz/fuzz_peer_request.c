/* fuzz_peer_request.c: arbitrary bytes through peer_request_parse, the reader of the request
 * head that a client of the peer endpoint sends over TLS (site/peer_request.h).
 * Invariants: INCOMPLETE only under PEER_REQUEST_MAX bytes; an accepted head has a token method,
 * a path of visible ASCII without '?', a Content-Length of -1 (none) or 0 to 18 digits, and ends
 * within the input and the cap; the same bytes cut
 * at the end of the head give the same request (and framing), and one byte shorter are still
 * incomplete (the verdict does not depend on what follows the head, nor on how the bytes were
 * split). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "peer_request.h"

static void check_ok(const char *data, const struct peer_request *rq)
{
    size_t ml = strlen(rq->method), pl = strlen(rq->path);
    if (ml == 0 || ml > PEER_REQUEST_METHOD_MAX || pl > PEER_REQUEST_TARGET_MAX) abort();
    for (size_t i = 0; i < pl; i++)
        if (rq->path[i] <= ' ' || rq->path[i] >= 0x7f || rq->path[i] == '?') abort();
    struct peer_request again;
    if (peer_request_parse(data, rq->head_len, &again) != PEER_REQUEST_OK ||
        again.head_len != rq->head_len || strcmp(again.method, rq->method) != 0 ||
        strcmp(again.path, rq->path) != 0 || again.content_length != rq->content_length ||
        again.transfer_encoding != rq->transfer_encoding)
        abort();
    if (rq->content_length < -1 || rq->content_length > 999999999999999999LL) abort();
    if (peer_request_parse(data, rq->head_len - 1, &again) != PEER_REQUEST_INCOMPLETE) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *copy = (const char *)data; /* libFuzzer's buffer ends at size, for ASan */
    struct peer_request rq;
    switch (peer_request_parse(copy, size, &rq)) {
    case PEER_REQUEST_INCOMPLETE:
        if (size >= PEER_REQUEST_MAX) abort();
        break;
    case PEER_REQUEST_OK:
        if (rq.head_len == 0 || rq.head_len > size || rq.head_len > PEER_REQUEST_MAX) abort();
        check_ok(copy, &rq);
        break;
    case PEER_REQUEST_BAD: break;
    default: abort();
    }
    return 0;
}
