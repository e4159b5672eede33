/* outbox.c: the durable notification queue (see outbox.h).
 *
 * The log is a journal (exporter/journal.h: each record a 24-byte header with magic, type,
 * length, CRC-32 and entry id, then its data; appended and fdatasync'd before anything depends
 * on it). An ADD record carries the entry (enqueue time, receiver, content type, dedupe key,
 * body); a DONE record only the id. The journal's replay cuts a torn tail (a crash) and skips
 * damage in the middle, keeping the records after it; an ADD or DONE that checks out but makes
 * no sense (an id that does not grow, an ADD that does not parse) is skipped the same way. The
 * skipped records are counted, and the log is then compacted so that the same damage is not
 * found again at every start. Entries are kept in memory too (both caps bound that), so that
 * sending and compaction never read the file back. Uses the journal, the loop's timers and the
 * notifier interface; nothing else. */
#include "outbox.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "caps.h"
#include "clock.h"
#include "durable.h"
#include "journal.h"
#include "log.h"
#include "loop.h"
#include "numtext.h"
#include "xalloc.h"

#define REC_MAGIC       0x4f425744u /* "DWBO" little-endian */
#define REC_ADD         1
#define REC_DONE        2
#define REC_MAX_DATA    (OUTBOX_MAX_PAYLOAD + 1024)
#define MAX_ID          ((uint64_t)1 << 62) /* one id per notification: never reached */
#define MAX_RESULTS     16
#define COMPACT_MIN     (1u << 20) /* compact a log holding some live entries past this size */
#define DEADLINE_GRACE  1.0
#define MAX_RETRY_AFTER 3600.0

static const double latency_buckets[] = {0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800, 3600};
#define NBUCKETS       ARRAY_LEN(latency_buckets)
#define NO_MORE_LABELS ((const char *)NULL) /* ends mset_addv's list */

struct entry {
    uint64_t id;
    char *receiver;
    double enqueued_at;
    struct payload p;
    size_t disk_bytes; /* the ADD record's size */
};

/* One receiver: its binding, its send in flight, its counters (kept over rebinding). */
struct rstate {
    struct outbox *ob;
    char *name;
    const struct notifier_ops *ops; /* NULL while not bound */
    void *state;
    double timeout_s;
    uint64_t inflight; /* entry id, 0 when idle */
    double deadline;
    uint64_t head; /* the entry attempts and not_before are about */
    unsigned attempts;
    double not_before;
    struct complaint complaint;
    struct {
        char result[40];
        uint64_t n;
    } results[MAX_RESULTS];
    size_t nresults;
    uint64_t lat_bucket[NBUCKETS], lat_count;
    double lat_sum;
};

struct outbox {
    struct outbox_opts o;
    char *path;
    struct journal *log;
    size_t live_bytes, payload_bytes;
    struct entry **entries; /* in id order */
    size_t n, cap;
    uint64_t next_id;
    struct rstate **rs;
    size_t nrs;
    struct loop_timer *timer;
    uint64_t rng;
    uint64_t write_errors;
    uint64_t corrupt_records; /* skipped at replay */
    struct complaint compact_complaint;
    struct buf scratch; /* a record's data being built */
    bool ticking;
};

/* ---- little helpers ---- */

static double now_s(const struct outbox *ob)
{
    return ob->o.clock(ob->o.clock_arg);
}

static double rand_unit(struct outbox *ob)
{
    ob->rng ^= ob->rng >> 12;
    ob->rng ^= ob->rng << 25;
    ob->rng ^= ob->rng >> 27;
    return (double)((ob->rng * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

static void put_u16(struct buf *b, size_t v)
{
    unsigned char x[2] = {(unsigned char)(v & 0xff), (unsigned char)(v >> 8)};
    buf_append(b, x, 2);
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static void entry_free(struct entry *e)
{
    if (!e) return;
    free(e->receiver);
    buf_free(&e->p.body);
    free(e);
}

static struct rstate *find_rs(const struct outbox *ob, const char *name)
{
    for (size_t i = 0; i < ob->nrs; i++)
        if (strcmp(ob->rs[i]->name, name) == 0) return ob->rs[i];
    return NULL;
}

static struct rstate *get_rs(struct outbox *ob, const char *name)
{
    struct rstate *rs = find_rs(ob, name);
    if (rs) return rs;
    rs = xcalloc(1, sizeof(*rs));
    rs->ob = ob;
    rs->name = xstrdup(name);
    ob->rs = xrealloc(ob->rs, (ob->nrs + 1) * sizeof(*ob->rs));
    ob->rs[ob->nrs++] = rs;
    return rs;
}

static void count_result(struct rstate *rs, const char *result)
{
    for (size_t i = 0; i < rs->nresults; i++) {
        if (strcmp(rs->results[i].result, result) == 0) {
            rs->results[i].n++;
            return;
        }
    }
    if (rs->nresults == MAX_RESULTS - 1 && strcmp(result, "other") != 0) {
        count_result(rs, "other"); /* the last slot takes every further result */
        return;
    }
    snprintf(rs->results[rs->nresults].result, sizeof(rs->results[0].result), "%s", result);
    rs->results[rs->nresults++].n = 1;
}

/* ---- records ---- */

/* Appends a record and syncs it, counting a failure. */
static int append_record(struct outbox *ob, unsigned type, uint64_t id, const struct buf *data,
                         char *err, size_t errlen)
{
    struct journal_rec r = {
        .type = type, .id = id, .data = data ? data->data : NULL, .len = data ? data->len : 0};
    int rc = journal_append(ob->log, &r, err, errlen);
    if (rc < 0) ob->write_errors++;
    return rc;
}

static void add_data(struct buf *d, const struct entry *e)
{
    unsigned char t[8];
    uint64_t bits;
    memcpy(&bits, &e->enqueued_at, sizeof(bits));
    put_u64(t, bits);
    buf_append(d, t, 8);
    const char *parts[3] = {e->receiver, e->p.content_type, e->p.dedupe_key};
    for (int i = 0; i < 3; i++) {
        put_u16(d, strlen(parts[i]));
        buf_puts(d, parts[i]);
    }
    if (e->p.body.len) buf_append(d, e->p.body.data, e->p.body.len);
}

static int write_done(struct outbox *ob, uint64_t id)
{
    char err[512];
    int rc = append_record(ob, REC_DONE, id, NULL, err, sizeof(err));
    if (rc < 0)
        log_error("outbox",
                  "cannot record that entry %llu is done (it will be sent again after a "
                  "restart): %s",
                  (unsigned long long)id, err);
    return rc;
}

/* Reads a length-prefixed string at *pos of d[0..len). */
static int take_str(const unsigned char *d, size_t len, size_t *pos, char *out, size_t outsz)
{
    if (*pos + 2 > len) return -1;
    size_t n = d[*pos] | (size_t)d[*pos + 1] << 8;
    *pos += 2;
    if (*pos + n > len || n >= outsz || memchr(d + *pos, '\0', n)) return -1;
    memcpy(out, d + *pos, n);
    out[n] = '\0';
    *pos += n;
    return 0;
}

static struct entry *parse_add(uint64_t id, const unsigned char *d, size_t len)
{
    struct entry *e = xcalloc(1, sizeof(*e));
    char receiver[256];
    size_t pos = 8;
    e->id = id;
    if (len < 8) goto bad;
    uint64_t bits = get_u64(d);
    memcpy(&e->enqueued_at, &bits, sizeof(bits));
    if (take_str(d, len, &pos, receiver, sizeof(receiver)) ||
        take_str(d, len, &pos, e->p.content_type, sizeof(e->p.content_type)) ||
        take_str(d, len, &pos, e->p.dedupe_key, sizeof(e->p.dedupe_key)))
        goto bad;
    e->receiver = xstrdup(receiver);
    buf_init(&e->p.body, CAP_NOTIFY_PAYLOAD);
    buf_append(&e->p.body, d + pos, len - pos);
    e->disk_bytes = journal_record_size(len);
    return e;
bad:
    entry_free(e);
    return NULL;
}

/* ---- the in-memory queue ---- */

static void push_entry(struct outbox *ob, struct entry *e)
{
    if (ob->n == ob->cap) {
        ob->cap = ob->cap ? ob->cap * 2 : 16;
        ob->entries = xrealloc(ob->entries, ob->cap * sizeof(*ob->entries));
    }
    ob->entries[ob->n++] = e;
    ob->live_bytes += e->disk_bytes;
    ob->payload_bytes += e->p.body.len;
    if (e->id >= ob->next_id) ob->next_id = e->id + 1;
}

static size_t find_entry(const struct outbox *ob, uint64_t id)
{
    size_t lo = 0, hi = ob->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (ob->entries[mid]->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < ob->n && ob->entries[lo]->id == id ? lo : SIZE_MAX;
}

static void remove_at(struct outbox *ob, size_t i)
{
    struct entry *e = ob->entries[i];
    ob->live_bytes -= e->disk_bytes;
    ob->payload_bytes -= e->p.body.len;
    memmove(ob->entries + i, ob->entries + i + 1, (ob->n - i - 1) * sizeof(*ob->entries));
    ob->n--;
    entry_free(e);
}

/* ---- replay and compaction ---- */

/* Takes one record of the log at replay; -1 for one that makes no sense here. */
static int on_record(void *arg, const struct journal_rec *r)
{
    struct outbox *ob = arg;
    if (r->id == 0 || r->id > MAX_ID) return -1; /* next_id must not wrap */
    if (r->type == REC_DONE) {
        size_t i = find_entry(ob, r->id);
        if (i != SIZE_MAX) remove_at(ob, i);
        if (r->id >= ob->next_id) ob->next_id = r->id + 1;
        return 0;
    }
    if (r->type != REC_ADD || r->id < ob->next_id) return -1; /* ids only grow */
    struct entry *e = parse_add(r->id, r->data, r->len);
    if (!e) return -1;
    push_entry(ob, e);
    return 0;
}

/* Gives the i-th pending entry as an ADD record, for the journal's compaction. */
static void live_record(void *arg, size_t i, struct journal_rec *r)
{
    struct outbox *ob = arg;
    buf_reset(&ob->scratch);
    add_data(&ob->scratch, ob->entries[i]);
    *r = (struct journal_rec){.type = REC_ADD,
                              .id = ob->entries[i]->id,
                              .data = ob->scratch.data,
                              .len = ob->scratch.len};
}

/* Rewrites the log with only the pending entries: when nothing is pending, when removed
 * entries make up most of a large log, or (force) after replay skipped damage. A failure keeps
 * the old log, which the journal goes on appending to. */
static void compact(struct outbox *ob, bool force)
{
    uint64_t size = journal_size(ob->log);
    if (ob->n == 0 ? size == 0 : !force && (size < COMPACT_MIN || size < 4 * ob->live_bytes))
        return;
    char err[512];
    if (journal_compact(ob->log, ob->n, live_record, ob, err, sizeof(err)) < 0) {
        log_complain(&ob->compact_complaint, LOG_WARN, "outbox",
                     "log compaction did not complete (retried as the log grows): %s", err);
        return;
    }
    log_complain_clear(&ob->compact_complaint, "outbox", "compaction works again");
}

/* ---- scheduling ---- */

static void reschedule(struct outbox *ob)
{
    if (!ob->timer || ob->ticking) return;
    double due = outbox_next_due(ob);
    if (!isfinite(due)) {
        loop_timer_stop(ob->timer);
        return;
    }
    double wait = (due - now_s(ob)) * 1000.0;
    loop_timer_start(ob->timer, wait <= 0 ? 0 : (int64_t)ceil(wait));
}

/* The first pending entry of rs, or NULL. */
static struct entry *head_of(const struct outbox *ob, const struct rstate *rs)
{
    for (size_t i = 0; i < ob->n; i++)
        if (strcmp(ob->entries[i]->receiver, rs->name) == 0) return ob->entries[i];
    return NULL;
}

double outbox_next_due(const struct outbox *ob)
{
    double due = INFINITY;
    for (size_t i = 0; i < ob->nrs; i++) {
        const struct rstate *rs = ob->rs[i];
        if (!rs->ops) continue;
        if (rs->inflight) {
            if (rs->deadline < due) due = rs->deadline;
            continue;
        }
        const struct entry *h = head_of(ob, rs);
        if (!h) continue;
        double t = h->id == rs->head ? rs->not_before : 0;
        if (t < due) due = t;
    }
    return due;
}

double outbox_retry_delay(double backoff_min, double backoff_max, unsigned attempt,
                          double retry_after, double u)
{
    if (retry_after >= 0) return retry_after < MAX_RETRY_AFTER ? retry_after : MAX_RETRY_AFTER;
    double base = backoff_min;
    for (unsigned i = 1; i < attempt && base < backoff_max; i++) base *= 2;
    if (base > backoff_max) base = backoff_max;
    return base / 2 + u * base / 2;
}

/* Ends the send in flight of rs with result r (also for timeouts, with ops->cancel done). */
static void finish(struct rstate *rs, const struct send_result *r)
{
    struct outbox *ob = rs->ob;
    uint64_t id = rs->inflight;
    rs->inflight = 0;
    size_t i = find_entry(ob, id);
    if (i == SIZE_MAX) return; /* dropped while in flight */
    struct entry *e = ob->entries[i];
    double now = now_s(ob);
    const char *reason = r->reason ? r->reason : (r->outcome == SEND_OK ? "ok" : "error");
    count_result(rs, reason);
    if (r->outcome == SEND_RETRY) {
        rs->attempts++;
        double delay = outbox_retry_delay(ob->o.backoff_min_s, ob->o.backoff_max_s, rs->attempts,
                                          r->retry_after_s, rand_unit(ob));
        rs->not_before = now + delay;
        log_complain(&rs->complaint, LOG_WARN, "outbox",
                     "receiver %s: sending failed (%s%s%s), retrying in %.1fs and on with backoff",
                     rs->name, reason, r->detail ? ": " : "", r->detail ? r->detail : "", delay);
        return;
    }
    if (r->outcome == SEND_OK) {
        double lat = now - e->enqueued_at;
        if (lat < 0) lat = 0;
        for (size_t b = 0; b < NBUCKETS; b++)
            if (lat <= latency_buckets[b]) rs->lat_bucket[b]++;
        rs->lat_count++;
        rs->lat_sum += lat;
        log_complain_clear(&rs->complaint, "outbox", "receiver %s: sending works again", rs->name);
        log_debug("outbox", "delivered %s to %s after %.3fs", e->p.dedupe_key, rs->name, lat);
    } else {
        log_error("outbox", "receiver %s refused notification %s for good (%s%s%s); dropped",
                  rs->name, e->p.dedupe_key, reason, r->detail ? ": " : "",
                  r->detail ? r->detail : "");
    }
    rs->attempts = 0;
    write_done(ob, id);
    remove_at(ob, i);
    compact(ob, false);
}

static void on_send_done(void *arg, const struct send_result *r)
{
    struct rstate *rs = arg;
    if (!rs->inflight) return; /* a notifier that answered twice */
    finish(rs, r);
    reschedule(rs->ob);
}

/* Starts sends for rs while its head is due; a notifier may answer at once. */
static void run_receiver(struct outbox *ob, struct rstate *rs, double now)
{
    if (rs->inflight && now >= rs->deadline) {
        rs->ops->cancel(rs->state);
        struct send_result r = {.outcome = SEND_RETRY,
                                .retry_after_s = -1,
                                .reason = "timeout",
                                .detail = "no answer within the receiver's timeout"};
        finish(rs, &r);
    }
    while (rs->ops && !rs->inflight) {
        struct entry *h = head_of(ob, rs);
        if (!h) return;
        if (h->id != rs->head) {
            rs->head = h->id;
            rs->attempts = 0;
            rs->not_before = 0;
        }
        if (now < rs->not_before) return;
        rs->inflight = h->id;
        rs->deadline = now + rs->timeout_s + DEADLINE_GRACE;
        rs->ops->send(rs->state, &h->p, on_send_done, rs);
    }
}

void outbox_tick(struct outbox *ob)
{
    ob->ticking = true;
    double now = now_s(ob);
    for (size_t i = 0; i < ob->nrs; i++)
        if (ob->rs[i]->ops) run_receiver(ob, ob->rs[i], now);
    ob->ticking = false;
    reschedule(ob);
}

static void on_timer(void *arg)
{
    outbox_tick(arg);
}

/* ---- the interface ---- */

/* Logs what replay found, and compacts away damage it skipped. */
static void report_replay(struct outbox *ob, const struct journal_found *found)
{
    if (found->corrupt) {
        ob->corrupt_records = found->corrupt;
        log_error("outbox",
                  "%s: skipped %zu damaged record(s) (%llu bytes) and kept the intact ones "
                  "after them; a notification in a damaged record is lost, one whose removal was "
                  "damaged is sent again. A crash tears only the end of the log: this is damage "
                  "to the file or the disk. The log is rewritten without them.",
                  ob->path, found->corrupt, (unsigned long long)found->corrupt_bytes);
        compact(ob, true);
    }
    if (ob->n) log_info("outbox", "%s: %zu notifications pending from before", ob->path, ob->n);
}

struct outbox *outbox_open(const struct outbox_opts *o, char *err, size_t errlen)
{
    struct outbox *ob = xcalloc(1, sizeof(*ob));
    ob->o = *o;
    ob->path = xasprintf("%s/%s", o->dir, OUTBOX_FILE);
    ob->next_id = 1;
    buf_init(&ob->scratch, REC_MAX_DATA);
    ob->rng = o->seed ? o->seed : ((uint64_t)time_mono_ms() * 0x9E3779B97F4A7C15ULL) | 1;
    if (ob->o.backoff_min_s < 0.01) ob->o.backoff_min_s = 0.01;
    if (ob->o.backoff_max_s < ob->o.backoff_min_s) ob->o.backoff_max_s = ob->o.backoff_min_s;
    int rc = durable_dir_ensure(NULL, o->dir);
    if (rc < 0) {
        snprintf(err, errlen, "%s: cannot create: %s", o->dir, strerror(-rc));
        goto fail;
    }
    struct journal_opts jo = {.path = ob->path, .magic = REC_MAGIC, .max_data = REC_MAX_DATA};
    struct journal_found found;
    ob->log = journal_open(&jo, on_record, ob, &found, err, errlen);
    if (!ob->log) goto fail;
    report_replay(ob, &found);
    if (o->loop) ob->timer = loop_timer_new(o->loop, on_timer, ob);
    return ob;
fail:
    outbox_free(ob);
    return NULL;
}

void outbox_free(struct outbox *ob)
{
    if (!ob) return;
    for (size_t i = 0; i < ob->nrs; i++) {
        struct rstate *rs = ob->rs[i];
        if (rs->ops && rs->inflight) rs->ops->cancel(rs->state);
        free(rs->name);
        free(rs);
    }
    free(ob->rs);
    for (size_t i = 0; i < ob->n; i++) entry_free(ob->entries[i]);
    free(ob->entries);
    loop_timer_free(ob->timer);
    journal_free(ob->log);
    buf_free(&ob->scratch);
    free(ob->path);
    free(ob);
}

/* Drops entry i without sending it, counted under result. */
static void drop_at(struct outbox *ob, size_t i, const char *result)
{
    struct entry *e = ob->entries[i];
    struct rstate *rs = get_rs(ob, e->receiver);
    if (rs->inflight == e->id) {
        if (rs->ops) rs->ops->cancel(rs->state);
        rs->inflight = 0;
    }
    count_result(rs, result);
    write_done(ob, e->id);
    remove_at(ob, i);
}

void outbox_set_senders(struct outbox *ob, const struct outbox_sender *s, size_t n)
{
    for (size_t i = 0; i < ob->nrs; i++) {
        struct rstate *rs = ob->rs[i];
        if (rs->ops && rs->inflight) rs->ops->cancel(rs->state);
        rs->inflight = 0;
        rs->ops = NULL;
        rs->state = NULL;
    }
    for (size_t i = 0; i < n; i++) {
        struct rstate *rs = get_rs(ob, s[i].receiver);
        rs->ops = s[i].ops;
        rs->state = s[i].state;
        rs->timeout_s = (double)s[i].timeout_ms / 1000.0;
    }
    size_t dropped = 0;
    for (size_t i = 0; i < ob->n;) {
        struct rstate *rs = find_rs(ob, ob->entries[i]->receiver);
        if (rs && rs->ops) {
            i++;
            continue;
        }
        log_warn("outbox", "dropping notification %s: receiver %s is no longer configured",
                 ob->entries[i]->p.dedupe_key, ob->entries[i]->receiver);
        drop_at(ob, i, "no_receiver");
        dropped++;
    }
    if (dropped) compact(ob, false);
    if (ob->timer) loop_timer_start(ob->timer, 0);
}

void outbox_configure(struct outbox *ob, size_t max_entries, size_t max_bytes, double backoff_min,
                      double backoff_max)
{
    ob->o.max_entries = max_entries;
    ob->o.max_bytes = max_bytes;
    ob->o.backoff_min_s = backoff_min < 0.01 ? 0.01 : backoff_min;
    ob->o.backoff_max_s = backoff_max < ob->o.backoff_min_s ? ob->o.backoff_min_s : backoff_max;
}

int outbox_append(struct outbox *ob, const char *receiver, const struct payload *p, char *err,
                  size_t errlen)
{
    if (p->body.len > OUTBOX_MAX_PAYLOAD || strlen(receiver) > 200) {
        snprintf(err, errlen, "notification for %s is %zu bytes, over the cap of %u", receiver,
                 p->body.len, OUTBOX_MAX_PAYLOAD);
        return -E2BIG;
    }
    if (ob->next_id > MAX_ID) {
        snprintf(err, errlen, "%s: entry ids used up (a damaged log?)", ob->path);
        return -EOVERFLOW;
    }
    struct entry *e = xcalloc(1, sizeof(*e));
    e->id = ob->next_id;
    e->receiver = xstrdup(receiver);
    e->enqueued_at = now_s(ob);
    memcpy(e->p.content_type, p->content_type, sizeof(e->p.content_type));
    memcpy(e->p.dedupe_key, p->dedupe_key, sizeof(e->p.dedupe_key));
    e->p.content_type[sizeof(e->p.content_type) - 1] = '\0';
    e->p.dedupe_key[sizeof(e->p.dedupe_key) - 1] = '\0';
    buf_init(&e->p.body, CAP_NOTIFY_PAYLOAD);
    buf_append(&e->p.body, p->body.data, p->body.len);
    buf_reset(&ob->scratch);
    add_data(&ob->scratch, e);
    e->disk_bytes = journal_record_size(ob->scratch.len);
    int rc = append_record(ob, REC_ADD, e->id, &ob->scratch, err, errlen);
    if (rc < 0) {
        entry_free(e);
        return rc;
    }
    push_entry(ob, e);
    log_info("outbox", "queued notification %s for %s (%zu pending)", e->p.dedupe_key, receiver,
             ob->n);
    while (ob->n > 1 && (ob->n > ob->o.max_entries || ob->payload_bytes > ob->o.max_bytes)) {
        log_warn("outbox", "full (%zu entries, %zu bytes): dropping the oldest, %s for %s", ob->n,
                 ob->payload_bytes, ob->entries[0]->p.dedupe_key, ob->entries[0]->receiver);
        drop_at(ob, 0, "dropped");
    }
    if (ob->timer) loop_timer_start(ob->timer, 0);
    return 0;
}

size_t outbox_pending(const struct outbox *ob)
{
    return ob->n;
}

double outbox_oldest(const struct outbox *ob)
{
    return ob->n ? ob->entries[0]->enqueued_at : 0;
}

void outbox_metrics(const struct outbox *ob, struct metric_set *m)
{
    struct metric_family *total = mset_family(
        m, "drwatch_notifications_total", METRIC_COUNTER,
        "Notification send attempts and their ends, by receiver and result: ok, a retried "
        "failure (timeout, connect, http_429, http_503, teams_error, ...), a final one "
        "(http_400, ...), dropped (outbox full) or no_receiver (receiver removed).");
    struct metric_family *lat =
        mset_family(m, "drwatch_notification_latency_seconds", METRIC_HISTOGRAM,
                    "Time from queueing a notification to its successful delivery, retries "
                    "included, by receiver.");
    mset_family_set_unit(m, lat, "seconds");
    for (size_t i = 0; i < ob->nrs; i++) {
        const struct rstate *rs = ob->rs[i];
        for (size_t k = 0; k < rs->nresults; k++)
            mset_addv(m, total, (double)rs->results[k].n, "receiver", rs->name, "result",
                      rs->results[k].result, NO_MORE_LABELS);
        if (!rs->lat_count) continue;
        struct label_pair l[2] = {{"receiver", rs->name}, {"le", NULL}};
        char le[32];
        for (size_t b = 0; b <= NBUCKETS; b++) {
            if (b < NBUCKETS)
                fmt_double(le, latency_buckets[b]);
            else
                snprintf(le, sizeof(le), "+Inf");
            l[1].value = le;
            mset_add(m, lat, SUFFIX_BUCKET, l, 2,
                     (double)(b < NBUCKETS ? rs->lat_bucket[b] : rs->lat_count));
        }
        mset_add(m, lat, SUFFIX_SUM, l, 1, rs->lat_sum);
        mset_add(m, lat, SUFFIX_COUNT, l, 1, (double)rs->lat_count);
    }
    mset_addv(m,
              mset_family(m, "drwatch_outbox_entries", METRIC_GAUGE,
                          "Notifications in the outbox waiting to be delivered."),
              (double)ob->n, NO_MORE_LABELS);
    double age = ob->n ? now_s(ob) - ob->entries[0]->enqueued_at : 0;
    struct metric_family *oldest =
        mset_family(m, "drwatch_outbox_oldest_age_seconds", METRIC_GAUGE,
                    "Age of the oldest notification in the outbox (0 when it is empty).");
    mset_family_set_unit(m, oldest, "seconds");
    mset_addv(m, oldest, age > 0 ? age : 0, NO_MORE_LABELS);
    mset_addv(m,
              mset_family(m, "drwatch_outbox_write_errors_total", METRIC_COUNTER,
                          "Outbox writes or fsyncs that failed (the notification is tried again "
                          "at the group's next flush)."),
              (double)ob->write_errors, NO_MORE_LABELS);
    mset_addv(m,
              mset_family(m, "drwatch_outbox_corrupt_records_total", METRIC_COUNTER,
                          "Damaged records (or runs of them) found in the outbox log at start "
                          "and skipped, the intact records after them kept; a crash only tears "
                          "the end of the log, which is cut off and not counted."),
              (double)ob->corrupt_records, NO_MORE_LABELS);
}
