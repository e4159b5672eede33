/* golden.h: for the C unit tests that compare output with golden files under tests/data/:
 * render a metric set as /metrics text, read a file whole, check text against a golden file
 * (DRWATCH_UPDATE_GOLDEN=1 rewrites it from the output first: review the diff before committing
 * it), and list a data directory's cases sorted by name. Header-only; include after tap.h. */
#ifndef DRWATCH_TEST_GOLDEN_H
#define DRWATCH_TEST_GOLDEN_H

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "registry.h"
#include "strutil.h"
#include "tap.h"
#include "xalloc.h"

#define GOLDEN_MAX_FILE (64u << 20)

/* The set rendered as text 0.0.4, as /metrics would serve it; "" (with a diag) if it cannot
 * be rendered. Never NULL; the caller frees it. */
static __attribute__((unused)) char *golden_render_text(struct metric_set *set)
{
    struct snapshot *snap = snapshot_new(&set, 1, 1);
    const char *out;
    size_t len;
    int rc = snapshot_render(snap, EXPO_TEXT, false, &out, &len);
    char *text = rc == 0 ? xstrndup(out, len) : xstrdup("");
    if (rc != 0) diag("snapshot_render failed: %d", rc);
    snapshot_unref(snap);
    return text;
}

/* The whole file, NUL-terminated, its length in *len (0 on failure; len may be NULL); NULL if
 * it cannot be read. The caller frees it. */
static __attribute__((unused)) char *golden_slurp_len(const char *path, size_t *len)
{
    char *data = NULL;
    size_t n = 0;
    if (file_read_all(path, GOLDEN_MAX_FILE, &data, &n) < 0) {
        data = NULL;
        n = 0;
    }
    if (len) *len = n;
    return data;
}

static __attribute__((unused)) char *golden_slurp(const char *path)
{
    return golden_slurp_len(path, NULL);
}

/* Whether this run rewrites the golden files (DRWATCH_UPDATE_GOLDEN set). */
static int __attribute__((unused)) golden_updating(void)
{
    return getenv("DRWATCH_UPDATE_GOLDEN") != NULL;
}

/* Writes len bytes of data to path; 0, or -1 (with a diag) if it cannot. */
static int __attribute__((unused)) golden_write(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "w");
    int bad = !f || fwrite(data, 1, len, f) != len;
    if (f && fclose(f) != 0) bad = 1;
    if (bad) diag("cannot write %s", path);
    return bad ? -1 : 0;
}

/* One test, named by fmt: got (NULL counts as "" when written) equals the golden file at path.
 * With DRWATCH_UPDATE_GOLDEN set the file is first rewritten from got. */
static void golden_check(const char *path, const char *got, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), unused));
static void golden_check(const char *path, const char *got, const char *fmt, ...)
{
    char name[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof(name), fmt, ap);
    va_end(ap);
    if (golden_updating()) golden_write(path, got ? got : "", got ? strlen(got) : 0);
    char *want = golden_slurp(path);
    is_str(got, want ? want : "(no golden file)", "%s", name);
    free(want);
}

static int __attribute__((unused)) golden_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The cases of a data directory: the names of its entries that end with suffix ("" for every
 * entry), without the suffix, sorted; entries starting with '.' are left out. At most max are
 * stored in names (each for the caller to free). Returns how many, or -1 if dir cannot be
 * read. */
static int __attribute__((unused))
golden_cases(const char *dir, const char *suffix, char **names, size_t max)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    size_t n = 0, sl = strlen(suffix);
    for (struct dirent *e; n < max && (e = readdir(d));) {
        size_t l = strlen(e->d_name);
        if (e->d_name[0] == '.' || l <= sl || !str_has_suffix(e->d_name, suffix)) continue;
        names[n++] = xstrndup(e->d_name, l - sl);
    }
    closedir(d);
    qsort(names, n, sizeof(*names), golden_name_cmp);
    return (int)n;
}

#endif
