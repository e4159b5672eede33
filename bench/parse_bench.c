/* parse_bench.c: throughput of drwatch's text-format parser on one file, in MB/s of input.
 *
 * Three figures, each a loop of whole-file runs for about SECONDS seconds (at least 3 runs),
 * reported as the best run and the median run:
 *   noop       textparse_run in strict mode (as the textfile collector uses it) with a no-op
 *              sample callback: the parser alone.
 *   mset       one parse that builds a metric_set with mset_add_parsed, families made on the
 *              way as collectors/textfile.c makes them (HELP first, then typed by the first
 *              sample), and the set freed: what one file costs to load.
 *   collector  what the textfile collector does for a changed file: a check-only pass, then
 *              the mset pass.
 * The file is read once into memory; no I/O is timed. MB are 10^6 bytes.
 *
 * Prints one line per figure, key=value pairs for bench/run, then the set's memory
 * (mset_memory_bytes) and sample count.
 *
 * usage: parse_bench FILE [SECONDS] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "fileio.h"
#include "registry.h"
#include "textparse.h"
#include "xalloc.h"

struct build {
    struct metric_set *set;
    bool adding;
    size_t samples;
};

static int noop_sample(void *ctx, const struct tp_sample *s)
{
    (void)s;
    ((struct build *)ctx)->samples++;
    return 0;
}

static int on_help(void *ctx, const char *name, size_t len, const char *text, size_t tlen,
                   unsigned line)
{
    (void)line;
    struct build *b = ctx;
    if (!b->adding) return 0;
    char *plain = xmalloc(tlen + 1);
    textparse_unescape(plain, text, tlen);
    char *n = xstrndup(name, len);
    /* As textfile.c: a refused placeholder only loses the HELP. */
    DRW_IGNORE(mset_family(b->set, n, METRIC_UNTYPED, plain));
    free(n);
    free(plain);
    return 0;
}

static int on_sample(void *ctx, const struct tp_sample *s)
{
    struct build *b = ctx;
    struct metric_family *f = mset_family_find(b->set, s->name, s->family_len);
    if (!b->adding) return f && f->nsamples && f->type != s->family_type ? -EINVAL : 0;
    if (!f || f->type != s->family_type) {
        if (f) {
            f->type = s->family_type; /* the untyped placeholder HELP made */
        } else {
            char *n = xstrndup(s->name, s->family_len);
            f = mset_family(b->set, n, s->family_type, "");
            free(n);
        }
    }
    b->samples++;
    return mset_add_parsed(b->set, f, s, NULL, 0) == -EEXIST ? -EEXIST : 0;
}

enum mode { MODE_NOOP, MODE_MSET, MODE_COLLECTOR };

/* One whole-file run; returns 0 or the parse error. */
static int run_once(enum mode m, const char *data, size_t len, size_t *samples, size_t *mem)
{
    static const struct textparse_handler noop = {.sample = noop_sample};
    static const struct textparse_handler full = {.help = on_help, .sample = on_sample};
    struct textparse_opts opts = {.strict = true};
    struct textparse_error err = {0};
    struct build b = {0};
    int rc;
    if (m == MODE_NOOP) {
        rc = textparse_run(data, len, &noop, &b, &opts, &err, NULL);
    } else {
        b.set = mset_new();
        rc = 0;
        if (m == MODE_COLLECTOR) rc = textparse_run(data, len, &full, &b, &opts, &err, NULL);
        b.adding = true;
        b.samples = 0;
        if (rc == 0) rc = textparse_run(data, len, &full, &b, &opts, &err, NULL);
        if (mem) *mem = mset_memory_bytes(b.set);
        mset_unref(b.set);
    }
    if (rc)
        fprintf(stderr, "parse_bench: line %u:%u: %s (rc %d)\n", err.line, err.col, err.msg, rc);
    *samples = b.samples;
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int bench(enum mode m, const char *name, const char *data, size_t len, double seconds)
{
    size_t cap = 64, n = 0, samples = 0, mem = 0;
    double *mbps = xmalloc(cap * sizeof(*mbps));
    double start = time_mono_s();
    while (n < 3 || time_mono_s() - start < seconds) {
        double t0 = time_mono_s();
        if (run_once(m, data, len, &samples, &mem) != 0) {
            free(mbps);
            return -1;
        }
        double dt = time_mono_s() - t0;
        if (n == cap) mbps = xrealloc(mbps, (cap *= 2) * sizeof(*mbps));
        mbps[n++] = (double)len / 1e6 / dt;
    }
    qsort(mbps, n, sizeof(*mbps), cmp_double);
    double med = n % 2 ? mbps[n / 2] : (mbps[n / 2 - 1] + mbps[n / 2]) / 2;
    printf("mode=%s runs=%zu best_mbps=%.1f median_mbps=%.1f bytes=%zu samples=%zu", name, n,
           mbps[n - 1], med, len, samples);
    if (m != MODE_NOOP) printf(" set_bytes=%zu", mem);
    printf("\n");
    fflush(stdout);
    free(mbps);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: parse_bench FILE [SECONDS]\n");
        return 2;
    }
    double seconds = argc == 3 ? atof(argv[2]) : 2.0;
    char *data;
    size_t len;
    int rc = file_read_all(argv[1], (size_t)1 << 31, &data, &len);
    if (rc < 0) {
        fprintf(stderr, "parse_bench: %s: %s\n", argv[1], strerror(-rc));
        return 1;
    }
    rc = bench(MODE_NOOP, "noop", data, len, seconds) ||
         bench(MODE_MSET, "mset", data, len, seconds) ||
         bench(MODE_COLLECTOR, "collector", data, len, seconds);
    free(data);
    return rc ? 1 : 0;
}
