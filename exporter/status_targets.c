/* status_targets.c: the targets section of the status page (see status_targets.h). It reads
 * the scheduler's own families from the snapshot /metrics serves, so the page and a scrape can
 * never disagree. */
#include "status_targets.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "http_server.h"
#include "registry.h"
#include "selector.h"
#include "status_page.h"

struct target_row {
    const char *labels; /* {collector,target[,site]}: the snapshot's, as long as we hold it */
    uint32_t labels_len;
    size_t order; /* where the snapshot lists it */
    bool ran;
    double up, duration, last_success, interval, errors;
};

struct rows {
    struct target_row row[STATUS_TARGETS_MAX];
    size_t n, dropped;
};

static bool same_target(const char *a, uint32_t alen, const char *b, uint32_t blen)
{
    static const char *const keys[] = {"collector", "target", "site"};
    struct buf x = BUF_INIT(256), y = BUF_INIT(256);
    bool same = true;
    for (size_t k = 0; k < 3 && same; k++) {
        buf_reset(&x);
        buf_reset(&y);
        bool hx = labels_get(a, alen, keys[k], &x), hy = labels_get(b, blen, keys[k], &y);
        same = hx == hy && (!hx || strcmp(x.data ? x.data : "", y.data ? y.data : "") == 0);
    }
    buf_free(&x);
    buf_free(&y);
    return same;
}

static struct target_row *find(struct rows *r, const struct metric_sample *m)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->row[i].labels_len == m->labels_len &&
            memcmp(r->row[i].labels, m->labels, m->labels_len) == 0)
            return &r->row[i];
    return NULL;
}

static void on_interval(void *arg, const struct metric_family *f, const struct metric_sample *m)
{
    (void)f;
    struct rows *r = arg;
    if (r->n == STATUS_TARGETS_MAX) {
        r->dropped++;
        return;
    }
    r->row[r->n] = (struct target_row){
        .labels = m->labels, .labels_len = m->labels_len, .order = r->n, .interval = m->value};
    r->n++;
}

struct field_fill {
    struct rows *rows;
    size_t field; /* 0 up, 1 duration, 2 last success */
};

static void on_field(void *arg, const struct metric_family *f, const struct metric_sample *m)
{
    (void)f;
    struct field_fill *ff = arg;
    struct target_row *t = find(ff->rows, m);
    if (!t) return;
    if (ff->field == 0)
        t->ran = true, t->up = m->value;
    else if (ff->field == 1)
        t->duration = m->value;
    else
        t->last_success = m->value;
}

static void on_errors(void *arg, const struct metric_family *f, const struct metric_sample *m)
{
    (void)f;
    struct rows *r = arg;
    for (size_t i = 0; i < r->n; i++)
        if (same_target(r->row[i].labels, r->row[i].labels_len, m->labels, m->labels_len)) {
            r->row[i].errors += m->value;
            return;
        }
}

static void select_family(const struct snapshot *snap, const char *name, select_fn fn, void *arg)
{
    struct selector sel = {.name = (char *)name};
    snapshot_select(snap, &sel, fn, arg);
}

static void label_cell(struct buf *b, const struct target_row *t, const char *key)
{
    struct buf v = BUF_INIT(256);
    (void)buf_puts(b, "<td>");
    if (labels_get(t->labels, t->labels_len, key, &v) && v.data) status_page_put_html(b, v.data);
    (void)buf_puts(b, "</td>");
    buf_free(&v);
}

static void row_html(struct buf *b, const struct target_row *t, double now)
{
    (void)buf_puts(b, "<tr>");
    label_cell(b, t, "collector");
    label_cell(b, t, "target");
    label_cell(b, t, "site");
    if (!t->ran)
        (void)buf_puts(b, "<td class=\"muted\">not yet</td>");
    else
        (void)buf_puts(b, t->up == 1 ? "<td class=\"ok\">up</td>" : "<td class=\"bad\">down</td>");
    if (t->last_success > 0)
        (void)buf_printf(b, "<td>%.0f s ago</td>",
                         now > t->last_success ? now - t->last_success : 0);
    else
        (void)buf_puts(b, "<td class=\"muted\">never</td>");
    (void)buf_printf(b, "<td>%.3f s</td><td>%.0f s</td><td>%.0f</td></tr>\n", t->duration,
                     t->interval, t->errors);
}

/* Down first, then not yet scraped, then up; each group in snapshot order. */
static int rank(const struct target_row *t)
{
    return !t->ran ? 1 : t->up == 1 ? 2 : 0;
}

static int by_rank(const void *a, const void *b)
{
    const struct target_row *x = a, *y = b;
    int d = rank(x) - rank(y);
    return d ? d : (x->order < y->order ? -1 : x->order > y->order);
}

void status_targets_html(void *arg, struct buf *b)
{
    struct snapshot *snap = http_current_snapshot(arg);
    if (!snap) {
        (void)buf_puts(b, "<p class=\"muted\">Nothing collected yet.</p>\n");
        return;
    }
    struct rows *r = calloc(1, sizeof(*r));
    if (!r) goto done;
    select_family(snap, "drwatch_collector_interval_seconds", on_interval, r);
    static const char *const fields[] = {"drwatch_collector_up",
                                         "drwatch_collector_scrape_duration_seconds",
                                         "drwatch_collector_last_success_timestamp_seconds"};
    for (size_t i = 0; i < 3; i++)
        select_family(snap, fields[i], on_field, &(struct field_fill){.rows = r, .field = i});
    select_family(snap, "drwatch_collector_errors_total", on_errors, r);
    qsort(r->row, r->n, sizeof(r->row[0]), by_rank);
    size_t down = 0;
    for (size_t i = 0; i < r->n; i++) down += r->row[i].ran && r->row[i].up != 1;
    (void)buf_printf(b, "<p>%zu targets, <span class=\"%s\">%zu down</span>.</p>\n", r->n,
                     down ? "bad" : "ok", down);
    (void)buf_puts(b, "<div class=\"scroll\"><table><tr><th>collector</th><th>target</th>"
                      "<th>site</th><th>health</th><th>last success</th><th>scrape</th>"
                      "<th>every</th><th>errors</th></tr>\n");
    double now = time_wall_s();
    for (size_t i = 0; i < r->n; i++) row_html(b, &r->row[i], now);
    (void)buf_puts(b, "</table></div>\n");
    if (r->dropped) (void)buf_printf(b, "<p class=\"muted\">%zu more not shown.</p>\n", r->dropped);
done:
    free(r);
    snapshot_unref(snap);
}
