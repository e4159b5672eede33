/* switchover_page.c: the status page's switchover section: both sites as this drwatch sees
 * them (state, database, /health, the GSLB's answers), the run going on step by step or a
 * request awaiting the peer, the last finished run with each step's outcome and time, this
 * site's last transitions with their recovery timelines and RPO exposure, and each check of
 * the automatic failover's evidence with what it saw, so on-call can see at a glance why
 * drwatch did or did not fail over. The JSON API (switchover_api.c) says the same for tools. */
#include "switchover_page.h"

#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "status_page.h"
#include "switchover.h"
#include "world.h"

static void text(struct buf *b, const char *s)
{
    status_page_put_html(b, s ? s : "");
}

static void run_line(struct buf *b, const char *what, const struct sw_run_start *r)
{
    (void)buf_printf(b, "<li>%s: run <code>", what);
    text(b, r->id);
    (void)buf_printf(b, "</code> %s &rarr; %s, asked by %s: ", sw_state_name(r->from),
                     sw_state_name(r->to), sw_source_name(r->source));
    text(b, r->reason);
}

static const char *db_words(const struct sw_db *d, const char **cls)
{
    *cls = "muted";
    if (!d->known) return "unknown";
    if (!d->leader_present) return *cls = "bad", "no leader";
    if (d->leader_writable) return *cls = "ok", "primary (writable)";
    *cls = "";
    return d->standby_cluster ? "standby cluster (read-only)" : "read-only";
}

static void site_row(struct switchover *sw, struct buf *b, enum sw_site site)
{
    const struct sw_world *w = switchover_world(sw);
    bool self = site == w->self;
    const char *cls;
    const char *db = db_words(&w->db[site], &cls);
    (void)buf_printf(b, "<tr><td><b>%s</b>%s</td><td>", sw_site_name(site),
                     self ? " (here)" : " (peer)");
    if (self)
        (void)buf_printf(b, "<b>%s</b>", sw_state_name(switchover_state(sw)));
    else if (w->peer_state_known)
        (void)buf_printf(b, "<b>%s</b>%s", sw_state_name(w->peer_state),
                         w->peer_pending ? ", a transition pending" : "");
    else
        (void)buf_puts(b, w->peer_known ? "<span class=\"bad\">unreachable</span>"
                                        : "<span class=\"muted\">no peer configured</span>");
    (void)buf_printf(b, "</td><td class=\"%s\">%s", cls, db);
    if (w->db[site].known && !w->db[site].leader_writable && w->db[site].replay_lag_s >= 0)
        (void)buf_printf(b, ", %.1f s behind", w->db[site].replay_lag_s);
    const struct sw_probe *p = &w->probe[site];
    (void)buf_printf(b, "</td><td class=\"%s\">%s</td></tr>\n",
                     !p->known ? "muted"
                     : p->up   ? "ok"
                               : "bad",
                     !p->known ? "unknown"
                     : p->up   ? "iamalive"
                               : "failing");
}

static void sites(struct switchover *sw, struct buf *b)
{
    const struct sw_world *w = switchover_world(sw);
    (void)buf_puts(b, "<div class=\"scroll\"><table><tr><th>site</th><th>state</th>"
                      "<th>database</th><th>/health from here</th></tr>\n");
    site_row(sw, b, w->self);
    site_row(sw, b, sw_other(w->self));
    (void)buf_puts(b, "</table></div>\n<p>The GSLB answers");
    if (!w->nanswers) (void)buf_puts(b, " <span class=\"muted\">(no resolver observed)</span>");
    for (size_t i = 0; i < w->nanswers; i++) {
        const struct sw_answer *a = &w->answers[i];
        (void)buf_puts(b, i ? "; " : ": ");
        text(b, a->resolver);
        (void)buf_printf(b, " <b>%s</b> (%llu samples)", gslb_class_name(a->cls),
                         (unsigned long long)a->held);
    }
    (void)buf_puts(b, ".</p>\n");
}

static void steps(struct buf *b, const struct sw_run_record *rec)
{
    (void)buf_puts(b, "<div class=\"scroll\"><table><tr><th>#</th><th>step</th><th>outcome</th>"
                      "<th>time</th><th>detail</th></tr>\n");
    for (size_t i = 0; i < rec->nsteps; i++) {
        const struct sw_step_record *s = &rec->steps[i];
        const char *st = s->ended ? sw_result_name(s->result) : s->begun ? "running" : "pending";
        bool bad = s->ended && s->result != SW_RESULT_OK && s->result != SW_RESULT_ALREADY;
        (void)buf_printf(b, "<tr><td>%zu</td><td>", i + 1);
        text(b, s->name[0] ? s->name : s->action);
        (void)buf_printf(b, "%s</td><td class=\"%s\">%s</td><td>", s->depth ? " (fallback)" : "",
                         bad        ? "bad"
                         : s->ended ? "ok"
                                    : "muted",
                         st);
        if (s->ended || s->begun) (void)buf_printf(b, "%.1f s", s->seconds);
        (void)buf_puts(b, "</td><td>");
        text(b, s->detail);
        (void)buf_puts(b, "</td></tr>\n");
    }
    (void)buf_puts(b, "</table></div>\n");
}

static void runs(struct switchover *sw, struct buf *b)
{
    size_t step = 0, depth = 0;
    const struct sw_run_start *run = switchover_current(sw, &step, &depth);
    const struct sw_run_record *rec = run ? switchover_record(sw, run->id) : NULL;
    (void)buf_puts(b, "<ul>\n");
    if (run) {
        run_line(b, "<b>Running</b>", run);
        (void)buf_printf(b, " (step %zu of %zu", step + 1, run->nsteps);
        if (rec && step < rec->nsteps) {
            (void)buf_puts(b, ": ");
            text(b, rec->steps[step].name[0] ? rec->steps[step].name : rec->steps[step].action);
        }
        (void)buf_puts(b, depth ? ", its fallback)</li>\n" : ")</li>\n");
    }
    const struct sw_awaited *aw = switchover_awaited(sw, NULL);
    if (aw) {
        (void)buf_puts(b, "<li><b>Awaiting the peer</b>: request <code>");
        text(b, aw->id);
        (void)buf_printf(b, "</code> %s &rarr; %s: ", sw_state_name(aw->from),
                         sw_state_name(aw->to));
        text(b, aw->detail);
        (void)buf_puts(b, "</li>\n");
    }
    const struct sw_run_record *last = switchover_last_run(sw);
    bool show_last = last && (!run || strcmp(last->start.id, run->id) != 0);
    if (show_last) {
        run_line(b, "Last run", &last->start);
        (void)buf_printf(b, "; <b class=\"%s\">%s</b>", last->result == SW_RESULT_OK ? "ok" : "bad",
                         sw_result_name(last->result));
        if (last->detail[0]) (void)buf_puts(b, ": ");
        text(b, last->detail);
        (void)buf_puts(b, "</li>\n");
    }
    if (!run && !aw && !last) (void)buf_puts(b, "<li>No transition since drwatch started.</li>\n");
    (void)buf_puts(b, "<li><a href=\"/api/v1/state\">/api/v1/state</a>, "
                      "<a href=\"/api/v1/evidence\">/api/v1/evidence</a></li>\n</ul>\n");
    if (rec) {
        (void)buf_puts(b, "<h3>The run going on</h3>\n");
        steps(b, rec);
    }
    if (show_last) {
        (void)buf_puts(b, "<h3>The last run</h3>\n");
        steps(b, last);
    }
}

/* One cell: seconds since the request, or a dash for a milestone not reached (yet). */
static void since_cell(struct buf *b, const struct sw_timeline *t, enum sw_milestone m)
{
    double v = sw_timeline_since_request(t, m);
    if (v < 0)
        (void)buf_puts(b, "<td>&ndash;</td>");
    else
        (void)buf_printf(b, "<td>%.1f s</td>", v);
}

static void rpo_cell(struct buf *b, const struct sw_timeline *t)
{
    if (t->rpo_bytes < 0 && t->rpo_seconds < 0) {
        (void)buf_puts(b, "<td>no promotion here</td>");
        return;
    }
    (void)buf_puts(b, "<td>");
    if (t->rpo_bytes >= 0) (void)buf_printf(b, "%.0f B", t->rpo_bytes);
    if (t->rpo_seconds >= 0)
        (void)buf_printf(b, "%s%.1f s", t->rpo_bytes >= 0 ? ", " : "", t->rpo_seconds);
    (void)buf_puts(b, "</td>");
}

/* This site's last transitions with their recovery timelines: seconds from the request to
 * each milestone (timeline.h), and the RPO exposure where this site promoted. */
static void timelines(struct switchover *sw, struct buf *b)
{
    const struct sw_timelines *ts = switchover_timelines(sw);
    if (!ts->n) return;
    (void)buf_puts(b, "<p>Last transitions with their timelines (seconds from the request; "
                      "primary: the site that serves in the target state):</p>\n"
                      "<div class=\"scroll\"><table><tr><th>run</th><th>transition</th>"
                      "<th>result</th>");
    for (int m = SW_MS_PLAN_STARTED; m < SW_MS_COUNT; m++)
        (void)buf_printf(b, "<th>%s</th>", sw_milestone_name((enum sw_milestone)m));
    (void)buf_puts(b, "<th>RPO at promotion</th></tr>\n");
    for (size_t i = 0; i < ts->n; i++) {
        const struct sw_timeline *t = &ts->t[i];
        (void)buf_puts(b, "<tr><td><code>");
        text(b, t->id);
        (void)buf_printf(b, "</code></td><td>%s &rarr; %s (%s)</td><td>%s</td>",
                         sw_state_name(t->from), sw_state_name(t->to), sw_source_name(t->source),
                         t->ended ? sw_result_name((enum sw_result)t->result) : "running");
        for (int m = SW_MS_PLAN_STARTED; m < SW_MS_COUNT; m++)
            since_cell(b, t, (enum sw_milestone)m);
        rpo_cell(b, t);
        (void)buf_puts(b, "</tr>\n");
    }
    (void)buf_puts(b, "</table></div>\n");
}

static void evidence(struct switchover *sw, struct buf *b)
{
    const struct sw_evidence *e = switchover_evidence(sw);
    (void)buf_printf(b,
                     "<p>Automatic failover (active-passive &rarr; golddr-primary): evidence "
                     "<b>%s</b>, automation <b>%s</b>.</p>\n"
                     "<div class=\"scroll\"><table><tr><th>check</th><th>holds</th>"
                     "<th>saw</th></tr>\n",
                     e->ok ? "complete" : "not complete", switchover_automation(sw) ? "on" : "off");
    for (int c = 0; c < SW_CHECK_COUNT; c++) {
        (void)buf_printf(b, "<tr><td>%s</td><td>%s</td><td>", sw_check_name((enum sw_check)c),
                         e->check[c].ok ? "<span class=\"ok\">yes</span>" : "no");
        text(b, e->check[c].detail);
        (void)buf_puts(b, "</td></tr>\n");
    }
    (void)buf_puts(b, "</table></div>\n");
}

void switchover_page_html(void *slot, struct buf *b)
{
    struct switchover *sw = *(struct switchover *const *)slot;
    if (!sw) {
        (void)buf_puts(b, "<p>No switchover section in the config: this drwatch observes and "
                          "alerts, and carries out no transition.</p>\n");
        return;
    }
    (void)buf_printf(b, "<p>Site %s, state <b>%s</b>.</p>\n", switchover_site_name(sw),
                     sw_state_name(switchover_state(sw)));
    sites(sw, b);
    runs(sw, b);
    timelines(sw, b);
    evidence(sw, b);
}
