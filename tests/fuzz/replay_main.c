/* replay_main.c: replays a fuzz target's corpus without libFuzzer, as a TAP test, so that
 * `make test` (and `make asan`) run every input the fuzzers ever kept. Built with the target's
 * fuzz_*.c; FUZZ_CORPUS names the corpus directory. A crash fails the test by crashing. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "tap.h"
#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
    DIR *d = opendir(FUZZ_CORPUS);
    if (!ok(d != NULL, "corpus directory %s exists", FUZZ_CORPUS)) return done_testing();
    char **names = NULL;
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        names = xrealloc(names, (n + 1) * sizeof(*names));
        names[n++] = xstrdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof(*names), name_cmp);
    size_t replayed = 0;
    for (size_t i = 0; i < n; i++) {
        char *path = xasprintf("%s/%s", FUZZ_CORPUS, names[i]);
        char *data;
        size_t len;
        if (file_read_all(path, 16u << 20, &data, &len) == 0) {
            LLVMFuzzerTestOneInput((const uint8_t *)data, len);
            free(data);
            replayed++;
        }
        free(path);
        free(names[i]);
    }
    free(names);
    ok(replayed == n && n > 0, "replayed %zu corpus inputs without a crash", replayed);
    return done_testing();
}
