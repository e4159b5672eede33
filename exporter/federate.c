/* federate.c: /federate (see federate.h). The match[] parameters become selectors
 * (selector.c); a pass over the snapshot's families tries each selector's name and __name__
 * matchers once per series name a family has (itself, or its _bucket, _sum and _count), and
 * its other matchers only on the samples of names that passed; the selected samples are
 * copied into families shaped like the snapshot's (same parts, same metadata, fewer samples)
 * and rendered by exposition.c among the snapshot's whole family list, so that a family is
 * named and typed as /metrics has it. */
#include "federate.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caps.h"
#include "http_server.h"
#include "selector.h"

_Static_assert(CAP_FEDERATE_MATCHES <= 64, "selectors are tracked in a 64-bit mask");

struct federate_query {
    struct selector *sel;
    size_t n;
};

size_t federate_query_count(const struct federate_query *q)
{
    return q->n;
}

void federate_query_free(struct federate_query *q)
{
    if (!q) return;
    for (size_t i = 0; i < q->n; i++) selector_free(&q->sel[i]);
    free(q->sel);
    free(q);
}

int federate_query_parse(const struct http_kv *args, size_t nargs, struct federate_query **out,
                         char *err, size_t errlen)
{
    struct federate_query *q = xcalloc(1, sizeof(*q));
    size_t total = 0, count = 0;
    *out = NULL;
    for (size_t i = 0; i < nargs; i++) {
        if (strcmp(args[i].key, "match[]") != 0) continue;
        count++;
        total += strlen(args[i].value);
    }
    if (count == 0) {
        snprintf(err, errlen,
                 "no match[] parameter: /federate needs at least one series selector, such as "
                 "match[]={job=\"kong\"} or match[]=up");
        goto fail;
    }
    if (count > CAP_FEDERATE_MATCHES || total > CAP_FEDERATE_MATCH_BYTES) {
        snprintf(err, errlen, "%zu match[] parameters of %zu bytes in all: at most %d of %zu bytes",
                 count, total, CAP_FEDERATE_MATCHES, (size_t)CAP_FEDERATE_MATCH_BYTES);
        goto fail;
    }
    q->sel = xcalloc(count, sizeof(*q->sel));
    for (size_t i = 0; i < nargs; i++) {
        if (strcmp(args[i].key, "match[]") != 0) continue;
        const char *v = args[i].value;
        char why[512];
        if (selector_parse(v, strlen(v), &q->sel[q->n], why, sizeof(why)) < 0) {
            snprintf(err, errlen, "match[]=%.200s%s: %s", v, strlen(v) > 200 ? "..." : "", why);
            goto fail;
        }
        q->n++;
    }
    *out = q;
    return 0;
fail:
    federate_query_free(q);
    return -1;
}

/* ---- selection ---- */

/* What a selection holds: families shaped like the snapshot's, with the selected samples. */
struct selection {
    struct family_view *views;
    size_t nviews, cap;
    size_t series;
};

/* The series names family f has, as suffixes: a histogram's three, a summary's quantiles
 * (its own name), _sum and _count, and any other type's own name. */
static size_t family_suffixes(const struct metric_family *f, enum metric_suffix out[3])
{
    if (f->type == METRIC_HISTOGRAM) {
        out[0] = SUFFIX_BUCKET, out[1] = SUFFIX_SUM, out[2] = SUFFIX_COUNT;
        return 3;
    }
    if (f->type == METRIC_SUMMARY) {
        out[0] = SUFFIX_NONE, out[1] = SUFFIX_SUM, out[2] = SUFFIX_COUNT;
        return 3;
    }
    out[0] = SUFFIX_NONE;
    return 1;
}

/* For each suffix of v's family, the selectors whose name and __name__ matchers its series
 * name passes, as a mask. Returns whether any does. */
static bool name_masks(const struct federate_query *q, const struct family_view *v,
                       uint64_t mask[4])
{
    const struct metric_family *f = v->parts[0];
    enum metric_suffix sfx[3];
    size_t ns = family_suffixes(f, sfx), base = strlen(f->name);
    char *name = xmalloc(base + 8); /* the longest suffix is "_bucket" */
    memcpy(name, f->name, base);
    bool any = false;
    for (size_t i = 0; i < ns; i++) {
        const char *t = metric_suffix_text(sfx[i]);
        size_t tl = strlen(t);
        memcpy(name + base, t, tl + 1);
        for (size_t k = 0; k < q->n; k++)
            if (selector_match_name(&q->sel[k], name, base + tl)) mask[sfx[i]] |= 1ull << k;
        any |= mask[sfx[i]] != 0;
    }
    free(name);
    return any;
}

static bool sample_selected(const struct federate_query *q, uint64_t mask,
                            const struct metric_sample *m)
{
    for (size_t k = 0; mask; k++, mask >>= 1)
        if ((mask & 1) && selector_match_series_labels(&q->sel[k], m->labels, m->labels_len))
            return true;
    return false;
}

/* The selected samples of v as a view of copies of its parts (every part, so that HELP and
 * UNIT come from the same part as in /metrics), added to sel when there is any. */
static void select_view(struct selection *sel, const struct federate_query *q,
                        const struct family_view *v)
{
    uint64_t mask[4] = {0};
    if (!name_masks(q, v, mask)) return;
    struct metric_family *copies = xcalloc(v->nparts, sizeof(*copies));
    const struct metric_family **parts = xcalloc(v->nparts, sizeof(*parts));
    size_t total = 0;
    for (size_t p = 0; p < v->nparts; p++) {
        const struct metric_family *f = v->parts[p];
        struct metric_family *c = &copies[p];
        *c = *f;
        c->samples = NULL;
        c->nsamples = c->cap = 0;
        parts[p] = c;
        for (size_t i = 0; i < f->nsamples; i++) {
            const struct metric_sample *m = &f->samples[i];
            if (m->suffix >= 4 || !sample_selected(q, mask[m->suffix], m)) continue;
            if (!c->samples) c->samples = xmalloc((f->nsamples - i) * sizeof(*c->samples));
            c->samples[c->nsamples++] = *m;
        }
        total += c->nsamples;
    }
    if (total == 0) {
        free(copies);
        free(parts);
        return;
    }
    if (sel->nviews == sel->cap) {
        sel->cap = sel->cap ? sel->cap * 2 : 16;
        sel->views = xrealloc(sel->views, sel->cap * sizeof(*sel->views));
    }
    sel->views[sel->nviews++] = (struct family_view){.parts = parts, .nparts = v->nparts};
    sel->series += total;
}

static void selection_free(struct selection *sel)
{
    for (size_t i = 0; i < sel->nviews; i++) {
        const struct family_view *v = &sel->views[i];
        for (size_t p = 0; p < v->nparts; p++) free(v->parts[p]->samples);
        free((void *)v->parts[0]); /* the copies array: parts[0] is its first element */
        free((void *)v->parts);
    }
    free(sel->views);
}

int federate_render(const struct federate_query *q, const struct snapshot *snap, enum expo_format f,
                    bool gzip, struct buf *out, size_t *nseries)
{
    size_t n;
    const struct family_view *all = snapshot_families(snap, &n);
    struct selection sel = {0};
    for (size_t i = 0; i < n; i++)
        if (all[i].nparts) select_view(&sel, q, &all[i]);
    int rc = render_exposition_subset(out, f, gzip, sel.views, sel.nviews, all, n);
    if (nseries) *nseries = sel.series;
    selection_free(&sel);
    return rc;
}

/* ---- the route ---- */

static void route_federate(void *ctx, const struct http_request *req, struct http_reply *rep)
{
    struct http_server *s = ctx;
    char err[1024];
    struct federate_query *q;
    if (federate_query_parse(req->args, req->nargs, &q, err, sizeof(err)) < 0) {
        rep->status = 400;
        (void)buf_printf(&rep->body, "400 bad request: %s\n", err);
        return;
    }
    struct snapshot *snap = http_current_snapshot(s);
    if (!snap) {
        rep->status = 503;
        (void)buf_puts(&rep->body, "503 service unavailable: no collection has finished yet\n");
        federate_query_free(q);
        return;
    }
    enum expo_format f = http_negotiate_format(http_request_header(req, "Accept"));
    bool gzip = http_accepts_gzip(http_request_header(req, "Accept-Encoding"));
    struct buf out;
    buf_init(&out, CAP_FEDERATE_REPLY);
    int rc = federate_render(q, snap, f, gzip, &out, NULL);
    if (rc == 0) {
        buf_free(&rep->body);
        rep->body = out;
        rep->content_type =
            f == EXPO_OPENMETRICS ? EXPO_CONTENT_TYPE_OPENMETRICS : EXPO_CONTENT_TYPE_TEXT;
        rep->content_encoding = gzip ? "gzip" : NULL;
        rep->vary = "Accept, Accept-Encoding";
    } else {
        buf_free(&out);
        rep->status = 500;
        if (rc == -E2BIG)
            (void)buf_printf(&rep->body,
                             "500 internal server error: the answer is over %zu bytes; select "
                             "fewer series with match[]\n",
                             (size_t)CAP_FEDERATE_REPLY);
        else
            (void)buf_puts(&rep->body, "500 internal server error: compressing failed\n");
    }
    snapshot_unref(snap);
    federate_query_free(q);
}

void federate_add_route(struct http_server *s)
{
    http_route_add(s, &(struct http_route){.path = "/federate",
                                           .methods = "GET,HEAD",
                                           .stat = HANDLER_FEDERATE,
                                           .flags = HTTP_ON_WORKER,
                                           .fn = route_federate,
                                           .ctx = s});
}
