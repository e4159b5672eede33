/* render.c: writes merged families as Prometheus text 0.0.4 or OpenMetrics 1.0, optionally
 * gzip-compressed on the fly.
 *
 * Output goes through a 64 KiB staging area: plain output is appended to the result in big
 * blocks, gzip output is deflated block by block, so the uncompressed text of a gzip variant is
 * never held whole. The format rules are in reference/prometheus-format.md §2 and §3. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "registry.h"

/* Level 1 compresses repetitive metric text about 10:1 at several times the speed of the
 * default level; the body is compressed once per snapshot, so speed wins. */
#define RENDER_GZIP_LEVEL 1
#define STAGE_SIZE (64 * 1024)

struct sink {
    struct buf *out;
    bool gzip;
    z_stream z;
    int err;
    size_t len;
    char stage[STAGE_SIZE];
};

static void sink_deflate(struct sink *k, const char *p, size_t n, int flush)
{
    k->z.next_in = (Bytef *)p;
    k->z.avail_in = (uInt)n;
    do {
        if (buf_reserve(k->out, 64 * 1024) < 0) {
            k->err = -E2BIG;
            return;
        }
        k->z.next_out = (Bytef *)k->out->data + k->out->len;
        k->z.avail_out = (uInt)(k->out->cap - k->out->len - 1);
        size_t before = k->z.avail_out;
        int rc = deflate(&k->z, flush);
        if (rc == Z_STREAM_ERROR) {
            k->err = -EIO;
            return;
        }
        k->out->len += before - k->z.avail_out;
    } while (k->z.avail_out == 0 || k->z.avail_in > 0);
}

static void sink_flush(struct sink *k)
{
    if (k->len == 0 || k->err) return;
    if (k->gzip) sink_deflate(k, k->stage, k->len, Z_NO_FLUSH);
    else if (buf_append(k->out, k->stage, k->len) < 0) k->err = -E2BIG;
    k->len = 0;
}

static void sink_put(struct sink *k, const char *p, size_t n)
{
    if (n <= STAGE_SIZE - k->len) {
        memcpy(k->stage + k->len, p, n);
        k->len += n;
        return;
    }
    sink_flush(k);
    if (n < STAGE_SIZE) {
        memcpy(k->stage, p, n);
        k->len = n;
    } else if (!k->err) {
        if (k->gzip) sink_deflate(k, p, n, Z_NO_FLUSH);
        else if (buf_append(k->out, p, n) < 0) k->err = -E2BIG;
    }
}

static void sink_puts(struct sink *k, const char *s)
{
    sink_put(k, s, strlen(s));
}

/* HELP text: text 0.0.4 escapes backslash and newline; OpenMetrics also the double quote. */
static void put_help(struct sink *k, const char *h, bool om)
{
    const char *start = h;
    for (const char *p = h; *p; p++) {
        if (*p != '\\' && *p != '\n' && !(om && *p == '"')) continue;
        sink_put(k, start, (size_t)(p - start));
        sink_put(k, *p == '\n' ? "\\n" : (*p == '"' ? "\\\"" : "\\\\"), 2);
        start = p + 1;
    }
    sink_puts(k, start);
}

/* The OpenMetrics family name and type for a family stored under its text 0.0.4 name. A
 * counter whose name lacks _total cannot be an OpenMetrics counter without renaming its
 * samples, so it goes out as `unknown` under the same name: a series keeps one name whichever
 * format Prometheus negotiates. The same holds for an info family without _info. */
static const char *om_family(const struct metric_family *f, size_t *name_len)
{
    size_t n = strlen(f->name);
    *name_len = n;
    if (f->type == METRIC_COUNTER) {
        if (!str_has_suffix(f->name, "_total")) return "unknown";
        *name_len = n - 6;
    } else if (f->type == METRIC_INFO) {
        if (!str_has_suffix(f->name, "_info")) return "gauge";
        *name_len = n - 5;
    }
    return metric_type_name_openmetrics(f->type);
}

static void put_metadata(struct sink *k, const struct metric_family *f, enum expo_format fmt)
{
    if (fmt == EXPO_TEXT) {
        if (f->help && *f->help) {
            sink_puts(k, "# HELP ");
            sink_puts(k, f->name);
            sink_put(k, " ", 1);
            put_help(k, f->help, false);
            sink_put(k, "\n", 1);
        }
        sink_puts(k, "# TYPE ");
        sink_puts(k, f->name);
        sink_put(k, " ", 1);
        sink_puts(k, metric_type_name(f->type));
        sink_put(k, "\n", 1);
        return;
    }
    size_t nl;
    const char *type = om_family(f, &nl);
    sink_puts(k, "# TYPE ");
    sink_put(k, f->name, nl);
    sink_put(k, " ", 1);
    sink_puts(k, type);
    sink_put(k, "\n", 1);
    size_t ul = f->unit ? strlen(f->unit) : 0;
    if (ul && nl > ul + 1 && f->name[nl - ul - 1] == '_' &&
        memcmp(f->name + nl - ul, f->unit, ul) == 0) {
        sink_puts(k, "# UNIT ");
        sink_put(k, f->name, nl);
        sink_put(k, " ", 1);
        sink_puts(k, f->unit);
        sink_put(k, "\n", 1);
    }
    if (f->help && *f->help) {
        sink_puts(k, "# HELP ");
        sink_put(k, f->name, nl);
        sink_put(k, " ", 1);
        put_help(k, f->help, true);
        sink_put(k, "\n", 1);
    }
}

/* OpenMetrics wants le and quantile as canonical floats ("25" becomes "25.0"). */
static void put_labels_om(struct sink *k, const struct metric_sample *m, const char *canon)
{
    size_t pos = 0, nl, vl;
    const char *name, *value;
    bool first = true;
    while (labels_next(m->labels, m->labels_len, &pos, &name, &nl, &value, &vl)) {
        if (!first) sink_put(k, ",", 1);
        first = false;
        sink_put(k, name, nl);
        sink_put(k, "=\"", 2);
        double d;
        char num[40];
        if (nl == strlen(canon) && memcmp(name, canon, nl) == 0 &&
            textparse_float(value, vl, &d) == 0) {
            sink_put(k, num, fmt_double_canonical(num, d));
        } else {
            sink_put(k, value, vl);
        }
        sink_put(k, "\"", 1);
    }
}

static void put_sample(struct sink *k, const struct metric_family *f,
                       const struct metric_sample *m, enum expo_format fmt)
{
    char line[160];
    size_t nlen = strlen(f->name);
    const char *sfx = metric_suffix_text((enum metric_suffix)m->suffix);
    size_t slen = strlen(sfx);
    if (nlen + slen < sizeof(line) - 2) {
        memcpy(line, f->name, nlen);
        memcpy(line + nlen, sfx, slen);
        sink_put(k, line, nlen + slen);
    } else {
        sink_put(k, f->name, nlen);
        sink_put(k, sfx, slen);
    }
    if (m->labels_len) {
        sink_put(k, "{", 1);
        const char *canon = NULL;
        if (fmt == EXPO_OPENMETRICS && f->type == METRIC_HISTOGRAM && m->suffix == SUFFIX_BUCKET)
            canon = "le";
        else if (fmt == EXPO_OPENMETRICS && f->type == METRIC_SUMMARY &&
                 m->suffix == SUFFIX_NONE)
            canon = "quantile";
        if (canon) put_labels_om(k, m, canon);
        else sink_put(k, m->labels, m->labels_len);
        sink_put(k, "}", 1);
    }
    line[0] = ' ';
    size_t vl = fmt_double(line + 1, m->value);
    line[1 + vl] = '\n';
    sink_put(k, line, vl + 2);
}

int render_exposition(struct buf *out, enum expo_format fmt, bool gzip,
                      const struct family_view *fams, size_t n)
{
    struct sink *k = xcalloc(1, sizeof(*k));
    k->out = out;
    k->gzip = gzip;
    if (gzip && deflateInit2(&k->z, RENDER_GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8,
                             Z_DEFAULT_STRATEGY) != Z_OK) {
        free(k);
        return -EIO;
    }
    for (size_t i = 0; i < n && !k->err; i++) {
        const struct family_view *v = &fams[i];
        size_t total = 0;
        for (size_t p = 0; p < v->nparts; p++) total += v->parts[p]->nsamples;
        if (total == 0) continue; /* a family without samples says nothing */
        put_metadata(k, v->parts[0], fmt);
        for (size_t p = 0; p < v->nparts; p++)
            for (size_t s = 0; s < v->parts[p]->nsamples; s++)
                put_sample(k, v->parts[0], &v->parts[p]->samples[s], fmt);
    }
    if (fmt == EXPO_OPENMETRICS) sink_puts(k, "# EOF\n");
    sink_flush(k);
    if (gzip) {
        if (!k->err) sink_deflate(k, NULL, 0, Z_FINISH);
        deflateEnd(&k->z);
    }
    int rc = k->err;
    free(k);
    return rc;
}
