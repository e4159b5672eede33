/* fuzz_outbox.c: arbitrary bytes as the outbox log found at start (outbox_open replays it),
 * as a crash, a full disk or a bad block may leave it. Invariants: replay never fails on
 * content (only on I/O); it only ever removes bytes (a torn tail is cut, and damage in the
 * middle is skipped and then compacted away, keeping the records after it: the journal's own
 * target, fuzz_journal.c, checks which records survive); it is idempotent: a second open finds
 * the same pending entries and leaves the file byte for byte as it was; and a notification
 * appended after whatever replay found is there after a restart. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "fileio.h"
#include "log.h"
#include "outbox.h"
#include "xalloc.h"

static double fixed_clock(void *arg)
{
    (void)arg;
    return 1700000000.0;
}

static char *dir;

static char *contents(const char *path, size_t *len)
{
    char *data = NULL;
    if (file_read_all(path, 1u << 30, &data, len) < 0) abort();
    return data;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir) {
        char tmpl[] = "/tmp/drwatch-fuzz-outbox-XXXXXX";
        dir = xstrdup(mkdtemp(tmpl));
        /* Only that nothing crashes is asked here: the results are dropped on purpose. */
        DRW_IGNORE(log_set_level_name("error"));
    }
    char *path = xasprintf("%s/%s", dir, OUTBOX_FILE);
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (size) fwrite(data, 1, size, f);
    fclose(f);
    struct outbox_opts o = {.dir = dir,
                            .max_entries = 1000000,
                            .max_bytes = 1u << 30,
                            .backoff_min_s = 1,
                            .backoff_max_s = 10,
                            .clock = fixed_clock,
                            .seed = 1};
    char err[512];
    struct outbox *ob = outbox_open(&o, err, sizeof(err));
    if (!ob) abort();
    size_t pending = outbox_pending(ob);
    size_t kept_len;
    char *kept = contents(path, &kept_len);
    if (kept_len > size) abort();
    outbox_free(ob);
    ob = outbox_open(&o, err, sizeof(err));
    size_t again_len;
    char *again = contents(path, &again_len);
    if (!ob || outbox_pending(ob) != pending || again_len != kept_len ||
        memcmp(again, kept, kept_len) != 0)
        abort();
    struct payload p = {.content_type = "text/plain", .dedupe_key = "after-replay"};
    buf_init(&p.body, 1 << 20);
    buf_puts(&p.body, "appended after the replay");
    int rc = outbox_append(ob, "r", &p, err, sizeof(err));
    buf_free(&p.body);
    outbox_free(ob);
    ob = outbox_open(&o, err, sizeof(err));
    if (!ob || (rc == 0 && outbox_pending(ob) != pending + 1)) abort();
    outbox_free(ob);
    free(kept);
    free(again);
    unlink(path);
    free(path);
    return 0;
}
