/* run_journal.c: the executor's records on the core journal, and their replay (see
 * run_journal.h). Records are JSON (jansson); replay is a small state machine over them that
 * keeps only the last run, so memory stays bounded whatever the file holds. When a run
 * finishes and the file has grown past JOURNAL_COMPACT_AT, it is compacted to that run's
 * records. */
#include "run_journal.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "xalloc.h"

#define JOURNAL_MAGIC      0x4a575344u /* "DSWJ" */
#define RECORD_MAX         4096
#define JOURNAL_COMPACT_AT (256 * 1024)
#define RUN_RECORDS_MAX    512

enum rec_type { REC_START = 1, REC_BEGIN, REC_END, REC_FINISH, REC_NOTE, REC_TIMELINE, REC_MARK };

static const char *const result_names[SW_RESULT_COUNT] = {"ok", "already", "failed", "refused",
                                                          "stopped"};

const char *sw_result_name(enum sw_result r)
{
    return (unsigned)r < SW_RESULT_COUNT ? result_names[r] : "unknown";
}

static int result_parse(const char *s)
{
    for (int r = 0; s && r < SW_RESULT_COUNT; r++)
        if (strcmp(s, result_names[r]) == 0) return r;
    return -1;
}

/* The records of the current run, kept for compaction. */
struct kept {
    unsigned type;
    char *json;
};

struct sw_run_journal {
    struct journal *j;
    uint64_t seq;
    struct kept run[RUN_RECORDS_MAX];
    size_t nrun;
    struct sw_timelines timelines; /* what compaction writes before the run's records */
    char *scratch;                 /* a timeline's JSON while compaction writes it */
};

/* ---- replay: one record at a time ---- */

static const char *str(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

static int replay_start(struct sw_replayed *st, json_t *o)
{
    struct sw_run_start s = {0};
    snprintf(s.id, sizeof(s.id), "%s", str(o, "id"));
    snprintf(s.reason, sizeof(s.reason), "%s", str(o, "reason"));
    if (!s.id[0] || sw_site_parse(str(o, "site"), &s.site) < 0 ||
        sw_state_parse(str(o, "from"), &s.from) < 0 || sw_state_parse(str(o, "to"), &s.to) < 0)
        return -1;
    s.force = json_is_true(json_object_get(o, "force"));
    s.plan_hash = (uint32_t)json_integer_value(json_object_get(o, "plan_hash"));
    json_int_t n = json_integer_value(json_object_get(o, "steps"));
    if (n < 0 || n > 1000) return -1;
    s.nsteps = (size_t)n;
    s.at = json_number_value(json_object_get(o, "at"));
    s.requested_at = json_number_value(json_object_get(o, "requested_at"));
    for (int src = 0; src < SW_SOURCE_COUNT; src++)
        if (strcmp(str(o, "source"), sw_source_name((enum sw_source)src)) == 0)
            s.source = (enum sw_source)src;
    double last = st->last_finished_at;
    size_t records = st->records, corrupt = st->corrupt;
    struct sw_timelines tl = st->timelines;
    memset(st, 0, sizeof(*st));
    st->have_run = true;
    st->start = s;
    st->last_finished_at = last;
    st->timelines = tl;
    st->records = records;
    st->corrupt = corrupt;
    return 0;
}

/* begin and end carry the run id, the step and its depth. */
static int replay_step(struct sw_replayed *st, json_t *o, bool begin)
{
    json_int_t step = json_integer_value(json_object_get(o, "step"));
    json_int_t depth = json_integer_value(json_object_get(o, "depth"));
    if (!st->have_run || st->finished || strcmp(str(o, "id"), st->start.id) != 0 || step < 0 ||
        (size_t)step >= st->start.nsteps || depth < 0 || depth > 8)
        return -1;
    if (begin) {
        st->in_doubt = true;
        st->doubt_step = (size_t)step;
        st->doubt_depth = (size_t)depth;
        snprintf(st->doubt_action, sizeof(st->doubt_action), "%s", str(o, "action"));
        st->doubt_mark[0] = '\0';
        return 0;
    }
    int r = result_parse(str(o, "result"));
    if (r < 0 || !st->in_doubt || st->doubt_step != (size_t)step ||
        st->doubt_depth != (size_t)depth)
        return -1; /* an end matches the begin before it */
    st->in_doubt = false;
    st->doubt_mark[0] = '\0';
    st->have_end = true;
    st->end_step = (size_t)step;
    st->end_depth = (size_t)depth;
    st->end_result = (enum sw_result)r;
    if ((size_t)step < SW_JOURNAL_MAX_STEPS) {
        struct sw_replayed_step *rs = &st->steps[step];
        rs->ended = true;
        rs->depth = (size_t)depth;
        rs->result = (enum sw_result)r;
        rs->seconds = json_number_value(json_object_get(o, "seconds"));
        snprintf(rs->detail, sizeof(rs->detail), "%s", str(o, "detail"));
    }
    return 0;
}

static int replay_mark(struct sw_replayed *st, json_t *o)
{
    json_int_t step = json_integer_value(json_object_get(o, "step"));
    json_int_t depth = json_integer_value(json_object_get(o, "depth"));
    if (!st->have_run || st->finished || !st->in_doubt || strcmp(str(o, "id"), st->start.id) != 0 ||
        step < 0 || (size_t)step != st->doubt_step || depth < 0 || (size_t)depth != st->doubt_depth)
        return -1; /* a mark belongs to the step that began and has not ended */
    snprintf(st->doubt_mark, sizeof(st->doubt_mark), "%s", str(o, "mark"));
    return 0;
}

static int replay_finish(struct sw_replayed *st, json_t *o)
{
    int r = result_parse(str(o, "result"));
    if (!st->have_run || strcmp(str(o, "id"), st->start.id) != 0 || r < 0) return -1;
    st->finished = true;
    st->in_doubt = false;
    st->doubt_mark[0] = '\0';
    st->result = (enum sw_result)r;
    snprintf(st->detail, sizeof(st->detail), "%s", str(o, "detail"));
    st->finished_at = json_number_value(json_object_get(o, "at"));
    st->last_finished_at = st->finished_at;
    return 0;
}

static double num(json_t *o, const char *k, double def)
{
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : def;
}

static int replay_timeline(struct sw_replayed *st, json_t *o)
{
    struct sw_timeline t = {0};
    snprintf(t.id, sizeof(t.id), "%s", str(o, "id"));
    int r = result_parse(str(o, "result"));
    if (!t.id[0] || sw_state_parse(str(o, "from"), &t.from) < 0 ||
        sw_state_parse(str(o, "to"), &t.to) < 0 || r < 0)
        return -1;
    t.result = r;
    t.ended = json_is_true(json_object_get(o, "ended"));
    t.closed = json_is_true(json_object_get(o, "closed"));
    for (int src = 0; src < SW_SOURCE_COUNT; src++)
        if (strcmp(str(o, "source"), sw_source_name((enum sw_source)src)) == 0)
            t.source = (enum sw_source)src;
    for (int m = 0; m < SW_MS_COUNT; m++)
        t.at[m] = num(o, sw_milestone_name((enum sw_milestone)m), 0);
    t.rpo_bytes = num(o, "rpo_bytes", -1);
    t.rpo_seconds = num(o, "rpo_seconds", -1);
    (void)sw_timelines_put(&st->timelines, &t);
    return 0;
}

/* Applies one record; -1 for one that does not make sense here (counted as corrupt). */
static int replay_record(struct sw_replayed *st, unsigned type, const void *data, size_t len)
{
    json_t *o = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
    int rc = -1;
    if (json_is_object(o)) {
        switch (type) {
        case REC_START: rc = replay_start(st, o); break;
        case REC_BEGIN: rc = replay_step(st, o, true); break;
        case REC_END: rc = replay_step(st, o, false); break;
        case REC_FINISH: rc = replay_finish(st, o); break;
        case REC_NOTE: rc = 0; break;
        case REC_TIMELINE: rc = replay_timeline(st, o); break;
        case REC_MARK: rc = replay_mark(st, o); break;
        default: break;
        }
    }
    json_decref(o);
    st->records += rc == 0;
    st->corrupt += rc != 0;
    return rc;
}

void sw_journal_replay_bytes(const void *data, size_t len, struct sw_replayed *found)
{
    /* Test framing: records separated by '\n', the first byte of each its type digit. */
    memset(found, 0, sizeof(*found));
    const char *p = data, *end = p + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        if (e > p) replay_record(found, (unsigned)(p[0] - '0'), p + 1, (size_t)(e - p - 1));
        p = e + 1;
    }
}

/* ---- writing ---- */

static int on_replay(void *arg, const struct journal_rec *r)
{
    return replay_record(arg, r->type, r->data, r->len);
}

static void kept_clear(struct sw_run_journal *j)
{
    for (size_t i = 0; i < j->nrun; i++) free(j->run[i].json);
    j->nrun = 0;
}

struct sw_run_journal *sw_journal_open(const char *data_dir, struct sw_replayed *found, char *err,
                                       size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", data_dir, SW_JOURNAL_FILE);
    memset(found, 0, sizeof(*found));
    struct journal_opts o = {.path = path, .magic = JOURNAL_MAGIC, .max_data = RECORD_MAX};
    struct journal_found jf;
    struct journal *jj = journal_open(&o, on_replay, found, &jf, err, errlen);
    if (!jj) return NULL;
    struct sw_run_journal *j = xcalloc(1, sizeof(*j));
    j->j = jj;
    j->seq = found->records + found->corrupt + jf.corrupt + 1;
    j->timelines = found->timelines;
    found->corrupt += jf.corrupt;
    return j;
}

void sw_journal_free(struct sw_run_journal *j)
{
    if (!j) return;
    kept_clear(j);
    free(j->scratch);
    journal_free(j->j);
    free(j);
}

static json_t *timeline_json(const struct sw_timeline *t)
{
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:b, s:b}", "id", t->id, "from", sw_state_name(t->from), "to",
        sw_state_name(t->to), "source", sw_source_name(t->source), "result",
        sw_result_name((enum sw_result)t->result), "ended", t->ended, "closed", t->closed);
    for (int m = 0; o && m < SW_MS_COUNT; m++)
        if (t->at[m] > 0)
            json_object_set_new(o, sw_milestone_name((enum sw_milestone)m), json_real(t->at[m]));
    if (o && t->rpo_bytes >= 0) json_object_set_new(o, "rpo_bytes", json_real(t->rpo_bytes));
    if (o && t->rpo_seconds >= 0) json_object_set_new(o, "rpo_seconds", json_real(t->rpo_seconds));
    return o;
}

/* The timelines first, oldest first (replay puts each before the others), then the run's. */
static void live_record(void *arg, size_t i, struct journal_rec *r)
{
    struct sw_run_journal *j = arg;
    size_t ntl = j->timelines.n;
    free(j->scratch);
    j->scratch = NULL;
    if (i < ntl) {
        json_t *o = timeline_json(&j->timelines.t[ntl - 1 - i]);
        j->scratch = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(o);
        if (!j->scratch) j->scratch = xstrdup("{}"); /* replayed as corrupt: skipped */
        *r = (struct journal_rec){
            .type = REC_TIMELINE, .id = i + 1, .data = j->scratch, .len = strlen(j->scratch)};
        return;
    }
    i -= ntl;
    *r = (struct journal_rec){.type = j->run[i].type,
                              .id = ntl + i + 1,
                              .data = j->run[i].json,
                              .len = strlen(j->run[i].json)};
}

/* Appends o (taken) as a record of type; keeps it for compaction while the run lasts. */
static int append(struct sw_run_journal *j, unsigned type, json_t *o, char *err, size_t errlen)
{
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!text) {
        snprintf(err, errlen, "switchover journal: cannot encode a record");
        return -ENOMEM;
    }
    struct journal_rec r = {.type = type, .id = j->seq++, .data = text, .len = strlen(text)};
    int rc = journal_append(j->j, &r, err, errlen);
    if (rc == 0 && type != REC_NOTE && type != REC_TIMELINE) {
        if (type == REC_START) kept_clear(j);
        if (j->nrun < RUN_RECORDS_MAX) {
            j->run[j->nrun++] = (struct kept){type, text};
            text = NULL;
        }
    }
    free(text);
    if (rc == 0 && type == REC_FINISH && journal_size(j->j) > JOURNAL_COMPACT_AT) {
        char cerr[256]; /* a failed compaction keeps the longer file: not an error */
        (void)journal_compact(j->j, j->timelines.n + j->nrun, live_record, j, cerr, sizeof(cerr));
        free(j->scratch);
        j->scratch = NULL;
    }
    return rc;
}

int sw_journal_start(struct sw_run_journal *j, const struct sw_run_start *s, char *err,
                     size_t errlen)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:I, s:I, s:f}", "id", s->id, "site",
                          sw_site_name(s->site), "from", sw_state_name(s->from), "to",
                          sw_state_name(s->to), "force", s->force, "source",
                          sw_source_name(s->source), "reason", s->reason, "plan_hash",
                          (json_int_t)s->plan_hash, "steps", (json_int_t)s->nsteps, "at", s->at);
    if (o && s->requested_at > 0)
        json_object_set_new(o, "requested_at", json_real(s->requested_at));
    return append(j, REC_START, o, err, errlen);
}

int sw_journal_timeline(struct sw_run_journal *j, const struct sw_timeline *t, char *err,
                        size_t errlen)
{
    (void)sw_timelines_put(&j->timelines, t);
    return append(j, REC_TIMELINE, timeline_json(t), err, errlen);
}

int sw_journal_begin(struct sw_run_journal *j, const char *id, size_t step, size_t depth,
                     const char *action, double at, char *err, size_t errlen)
{
    json_t *o = json_pack("{s:s, s:I, s:I, s:s, s:f}", "id", id, "step", (json_int_t)step, "depth",
                          (json_int_t)depth, "action", action, "at", at);
    return append(j, REC_BEGIN, o, err, errlen);
}

int sw_journal_mark(struct sw_run_journal *j, const char *id, size_t step, size_t depth,
                    const char *mark, double at, char *err, size_t errlen)
{
    json_t *o = json_pack("{s:s, s:I, s:I, s:s, s:f}", "id", id, "step", (json_int_t)step, "depth",
                          (json_int_t)depth, "mark", mark ? mark : "", "at", at);
    return append(j, REC_MARK, o, err, errlen);
}

int sw_journal_end(struct sw_run_journal *j, const char *id, size_t step, size_t depth,
                   const char *action, enum sw_result r, const char *detail, double at,
                   double seconds, char *err, size_t errlen)
{
    json_t *o =
        json_pack("{s:s, s:I, s:I, s:s, s:s, s:s, s:f, s:f}", "id", id, "step", (json_int_t)step,
                  "depth", (json_int_t)depth, "action", action, "result", sw_result_name(r),
                  "detail", detail ? detail : "", "at", at, "seconds", seconds);
    return append(j, REC_END, o, err, errlen);
}

int sw_journal_finish(struct sw_run_journal *j, const char *id, enum sw_result r,
                      const char *detail, double at, char *err, size_t errlen)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:f}", "id", id, "result", sw_result_name(r), "detail",
                          detail ? detail : "", "at", at);
    return append(j, REC_FINISH, o, err, errlen);
}

int sw_journal_note(struct sw_run_journal *j, const char *kind, const char *to,
                    enum sw_source source, const char *reason, double at, char *err, size_t errlen)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:f}", "kind", kind, "to", to ? to : "", "source",
                          sw_source_name(source), "reason", reason ? reason : "", "at", at);
    return append(j, REC_NOTE, o, err, errlen);
}
