/* fuzz_teams_response.c: arbitrary answers through teams_classify, the reading of a Teams
 * webhook's status and body (msteams.md: errors wrapped in HTTP 200, "HTTP error <code>" in
 * the body). Input: byte 0 picks legacy or Workflows, bytes 1-2 the status, the rest the body.
 * Invariants: success needs a 2xx (and, from a legacy connector, the body "1"); every outcome
 * has a reason; a Retry-After is only given with a retry; the detail stays bounded. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "caps.h"
#include "notify_teams.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3) return 0;
    int legacy = data[0] & 1;
    long status = (long)((data[1] << 8 | data[2]) % 700);
    char *body = malloc(size - 3 + 1);
    memcpy(body, data + 3, size - 3);
    body[size - 3] = '\0';
    struct httpc_result r = {.ok = !(data[0] & 2),
                             .status = status,
                             .reason = "connect",
                             .error = "Failed to connect",
                             .body = body,
                             .body_len = size - 3,
                             .retry_after_s = (data[0] & 4) ? (double)data[1] : -1};
    const char *reason = NULL;
    char rbuf[48];
    double ra = -7;
    struct buf detail;
    buf_init(&detail, CAP_SEND_DETAIL);
    enum send_outcome o = teams_classify(legacy, &r, &reason, rbuf, sizeof(rbuf), &ra, &detail);
    if (!reason || !*reason) abort();
    if (o == SEND_OK && (!r.ok || status < 200 || status > 299)) abort();
    if (o == SEND_OK && legacy && teams_inner_status(body, size - 3) != 0) abort();
    if (o != SEND_RETRY && ra != -1) abort();
    if (detail.len > 8192) abort();
    buf_free(&detail);
    free(body);
    return 0;
}
