/* fuzz_outbox.c: arbitrary bytes as the outbox log found at start (outbox_open replays it),
 * as a crash, a full disk or a bad block may leave it. Invariants: replay never fails on
 * content (only on I/O), keeps a whole-record prefix and cuts the rest, and is idempotent: a
 * second open finds the same pending entries and the file no longer changes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "outbox.h"
#include "xalloc.h"

static double fixed_clock(void *arg)
{
    (void)arg;
    return 1700000000.0;
}

static char *dir;

static off_t size_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
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
    off_t kept = size_of(path);
    if (kept < 0 || (size_t)kept > size) abort();
    outbox_free(ob);
    ob = outbox_open(&o, err, sizeof(err));
    if (!ob || outbox_pending(ob) != pending || size_of(path) != kept) abort();
    outbox_free(ob);
    unlink(path);
    free(path);
    return 0;
}
