/* peer_request.c: the request head of the peer endpoint (see peer_request.h).
 *
 * Strict where leniency would only widen what a stranger can send (single spaces, HTTP/1.x only,
 * no control bytes, no obs-fold), lenient where clients differ harmlessly (a bare LF ends a
 * line, as most servers accept). A complete line that is malformed makes the request BAD at
 * once, so that the answer does not wait for the rest: a line cannot change once its LF came,
 * so the verdict never changes as more bytes arrive. Each call looks at the whole buffer again;
 * the buffer is at most PEER_REQUEST_MAX bytes and only an authenticated client reaches it. */
#include "peer_request.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

/* RFC 9110 tchar: the characters of a token (a method, a field name). */
static bool is_tchar(unsigned char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
        return true;
    return ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static size_t token_len(const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n && is_tchar(p[i])) i++;
    return i;
}

/* METHOD SP TARGET SP HTTP/1.<digit>, the line without its end; fills out's method and path. */
static bool request_line(const unsigned char *p, size_t n, struct peer_request *out)
{
    size_t m = token_len(p, n);
    if (m == 0 || m > PEER_REQUEST_METHOD_MAX || m >= n || p[m] != ' ') return false;
    const unsigned char *t = p + m + 1;
    size_t rest = n - m - 1, tl = 0;
    while (tl < rest && t[tl] > ' ' && t[tl] < 0x7f) tl++;
    if (tl == 0 || tl > PEER_REQUEST_TARGET_MAX || tl >= rest || t[tl] != ' ') return false;
    const unsigned char *v = t + tl + 1;
    if (rest - tl - 1 != 8 || memcmp(v, "HTTP/1.", 7) != 0 || v[7] < '0' || v[7] > '9')
        return false;
    memcpy(out->method, p, m);
    out->method[m] = '\0';
    size_t pl = 0;
    while (pl < tl && t[pl] != '?') pl++;
    memcpy(out->path, t, pl);
    out->path[pl] = '\0';
    return true;
}

/* The Content-Length value v[0..n): optional blanks, 1 to 18 digits, optional blanks. */
static bool content_length(const unsigned char *v, size_t n, long long *out)
{
    size_t i = 0, digits = 0;
    long long x = 0;
    while (i < n && (v[i] == ' ' || v[i] == '\t')) i++;
    for (; i < n && v[i] >= '0' && v[i] <= '9'; i++, digits++) x = x * 10 + (v[i] - '0');
    while (i < n && (v[i] == ' ' || v[i] == '\t')) i++;
    if (i != n || digits == 0 || digits > 18) return false;
    *out = x;
    return true;
}

/* NAME ":" VALUE: a token name right before the colon (whitespace there is refused, as RFC 9112
 * says, and so is a line starting with whitespace, obs-fold), and no control byte but HTAB.
 * Notes the framing fields in out. */
static bool header_line(const unsigned char *p, size_t n, struct peer_request *out)
{
    size_t m = token_len(p, n);
    if (m == 0 || m >= n || p[m] != ':') return false;
    for (size_t i = m + 1; i < n; i++)
        if ((p[i] < ' ' && p[i] != '\t') || p[i] == 0x7f) return false;
    if (m == 14 && strncasecmp((const char *)p, "content-length", 14) == 0)
        return out->content_length < 0 &&
               content_length(p + m + 1, n - m - 1, &out->content_length);
    if (m == 17 && strncasecmp((const char *)p, "transfer-encoding", 17) == 0)
        out->transfer_encoding = 1;
    return true;
}

enum peer_request_status peer_request_parse(const char *data, size_t len, struct peer_request *out)
{
    const unsigned char *p = (const unsigned char *)data;
    size_t n = len < PEER_REQUEST_MAX ? len : PEER_REQUEST_MAX;
    size_t start = 0;
    out->content_length = -1;
    out->transfer_encoding = 0;
    for (;;) {
        const unsigned char *lf = start < n ? memchr(p + start, '\n', n - start) : NULL;
        if (!lf) break;
        size_t end = (size_t)(lf - p), ll = end - start;
        if (ll > 0 && p[end - 1] == '\r') ll--;
        if (ll == 0) { /* the empty line: the end of the block, unless nothing came before it */
            if (start == 0) return PEER_REQUEST_BAD;
            out->head_len = end + 1;
            return PEER_REQUEST_OK;
        }
        bool good = start == 0 ? request_line(p, ll, out) : header_line(p + start, ll, out);
        if (!good) return PEER_REQUEST_BAD;
        start = end + 1;
    }
    return len >= PEER_REQUEST_MAX ? PEER_REQUEST_BAD : PEER_REQUEST_INCOMPLETE;
}
