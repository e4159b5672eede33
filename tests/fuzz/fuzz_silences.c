/* fuzz_silences.c: arbitrary bytes as the body of POST /api/v1/silences (silences_post), the
 * only outside input of the silence set, then the list as JSON and matching. Invariants: an
 * accepted body adds exactly one silence with a UUID and the list stays valid JSON; a refused
 * body changes nothing and says why. */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "caps.h"
#include "silence.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct silences *s = silences_new("/nonexistent/silences.json");
    double now = 1700000000.0;
    char id[40] = "", err[512] = "";
    int rc = silences_post(s, (const char *)data, size, now, id, err, sizeof(err));
    size_t n = silences_count(s, SILENCE_ACTIVE, now) + silences_count(s, SILENCE_PENDING, now);
    if (rc == 0 && (strlen(id) != 36 || n != 1)) abort();
    if (rc != 0 && (n != 0 || !err[0])) abort();
    struct buf out;
    buf_init(&out, CAP_HTTP_REPLY);
    silences_list_json(s, now, &out);
    json_t *j = json_loadb(out.data, out.len, 0, NULL);
    if (!json_is_array(j) || json_array_size(j) != n) abort();
    json_decref(j);
    buf_free(&out);
    silences_mutes(s, "alertname=\"A\",instance=\"x\"", now);
    silences_mutes(s, "", now + 3600);
    /* Only that nothing crashes is asked here: the results are dropped on purpose. */
    DRW_IGNORE(silences_expire(s, id, now + 1));
    silences_free(s);
    return 0;
}
