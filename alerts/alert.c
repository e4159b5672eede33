/* alert.c: the helpers of alert.h: copying and freeing alerts, reading their labels, and the
 * two Alertmanager conventions every notifier needs (the fingerprint and Go's time text).
 * Labels are canonical label text (registry.h), walked with labels_next and unescaped with the
 * text parser's own unescape. */
#include "alert.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "buf.h"
#include "textparse.h"
#include "xalloc.h"

void am_alert_copy(struct am_alert *dst, const struct am_alert *src)
{
    *dst = *src;
    dst->labels = xstrdup(src->labels ? src->labels : "");
    dst->generator_url = src->generator_url ? xstrdup(src->generator_url) : NULL;
    dst->annotations = NULL;
    if (src->nannotations) {
        struct label_pair *ann = xcalloc(src->nannotations, sizeof(*ann));
        for (size_t i = 0; i < src->nannotations; i++) {
            ann[i].name = xstrdup(src->annotations[i].name);
            ann[i].value = xstrdup(src->annotations[i].value);
        }
        dst->annotations = ann;
    }
}

void am_alert_free(struct am_alert *a)
{
    if (!a) return;
    free(a->labels);
    free(a->generator_url);
    for (size_t i = 0; i < a->nannotations; i++) {
        free((char *)a->annotations[i].name);
        free((char *)a->annotations[i].value);
    }
    free(a->annotations);
    a->labels = a->generator_url = NULL;
    a->annotations = NULL;
    a->nannotations = 0;
}

bool am_alert_resolved(const struct am_alert *a, double now)
{
    return a->ends_at > 0 && a->ends_at <= now;
}

bool am_alert_label(const struct am_alert *a, const char *name, struct buf *out)
{
    return labels_get(a->labels, strlen(a->labels), name, out);
}

/* FNV-1a 64, as prometheus/common/model's fnv.go. */
#define FNV_OFFSET 14695981039346656037ULL
#define FNV_PRIME  1099511628211ULL

static uint64_t fnv_add(uint64_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= FNV_PRIME;
    }
    return h;
}

uint64_t am_fingerprint(const char *labels)
{
    size_t pos = 0, nl, vl, len = strlen(labels);
    const char *n, *v;
    uint64_t h = FNV_OFFSET;
    char small[256];
    const char sep = (char)0xff;
    /* Canonical text is sorted by name already, as the fingerprint wants. */
    while (labels_next(labels, len, &pos, &n, &nl, &v, &vl)) {
        char *plain = vl < sizeof(small) ? small : xmalloc(vl + 1);
        size_t pl = textparse_unescape(plain, v, vl);
        h = fnv_add(h, n, nl);
        h = fnv_add(h, &sep, 1);
        h = fnv_add(h, plain, pl);
        h = fnv_add(h, &sep, 1);
        if (plain != small) free(plain);
    }
    return h;
}

size_t am_labels_pairs(const char *labels, struct arena *arena, struct label_pair **out)
{
    size_t pos = 0, nl, vl, len = strlen(labels), count = 0;
    const char *n, *v;
    while (labels_next(labels, len, &pos, &n, &nl, &v, &vl)) count++;
    struct label_pair *p = arena_alloc(arena, (count ? count : 1) * sizeof(*p));
    pos = 0;
    for (size_t i = 0; i < count && labels_next(labels, len, &pos, &n, &nl, &v, &vl); i++) {
        char *value = arena_alloc(arena, vl + 1);
        value[textparse_unescape(value, v, vl)] = '\0';
        p[i] = (struct label_pair){arena_strndup(arena, n, nl), value};
    }
    *out = p;
    return count;
}

size_t am_time_format(double t, char *out)
{
    if (!(t > 0) || !isfinite(t)) return (size_t)snprintf(out, AM_TIME_LEN, "0001-01-01T00:00:00Z");
    long long us = llround(t * 1e6);
    time_t secs = (time_t)(us / 1000000);
    long frac = (long)(us % 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(out, AM_TIME_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
    if (frac) {
        int digits = 6;
        while (frac % 10 == 0) frac /= 10, digits--;
        n += (size_t)snprintf(out + n, AM_TIME_LEN - n, ".%0*ld", digits, frac);
    }
    n += (size_t)snprintf(out + n, AM_TIME_LEN - n, "Z");
    return n;
}
