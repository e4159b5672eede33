/* outbox.c: the durable notification queue (see outbox.h).
 *
 * The log is a sequence of records, each a 24-byte header (magic, type, length, CRC-32 of the
 * whole record with the CRC field zeroed, entry id) and its data. An ADD record carries the
 * entry (enqueue time, receiver, content type, dedupe key, body); a DONE record only the id.
 * Writes are append-only and each one is fdatasync'd before anything depends on it; a write
 * that fails is cut off again so that the next one does not follow garbage. Replay reads
 * records until the first one that is short or does not check out (a torn tail) and cuts the
 * file there. Entries are kept in memory too (both caps bound that), so that sending and
 * compaction never read the file back. Uses zlib's crc32, the loop's timers and the notifier
 * interface; nothing else. */
#include "outbox.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "buf.h"
#include "clock.h"
#include "fileio.h"
#include "log.h"
#include "loop.h"
#include "numtext.h"
#include "xalloc.h"

#define REC_MAGIC       0x4f425744u /* "DWBO" little-endian */
#define REC_ADD         1
#define REC_DONE        2
#define REC_HEADER      24
#define REC_MAX_DATA    (OUTBOX_MAX_PAYLOAD + 1024)
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
    char *dir, *path;
    int fd;
    size_t file_bytes, live_bytes, payload_bytes;
    struct entry **entries; /* in id order */
    size_t n, cap;
    uint64_t next_id;
    struct rstate **rs;
    size_t nrs;
    struct loop_timer *timer;
    uint64_t rng;
    uint64_t write_errors;
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

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
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

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -errno;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Frames data as a record of type for id into out (reset first). */
static void frame(struct buf *out, int type, uint64_t id, const void *data, size_t len)
{
    unsigned char h[REC_HEADER] = {0};
    put_u32(h, REC_MAGIC);
    h[4] = (unsigned char)type;
    put_u32(h + 8, (uint32_t)len);
    put_u64(h + 16, id);
    buf_reset(out);
    buf_append(out, h, sizeof(h));
    if (len) buf_append(out, data, len);
    put_u32((unsigned char *)out->data + 12,
            (uint32_t)crc32(0, (const Bytef *)out->data, out->len));
}

/* Appends a framed record and syncs it; on failure cuts the file back. */
static int append_record(struct outbox *ob, const struct buf *rec)
{
    int rc = write_all(ob->fd, rec->data, rec->len);
    if (rc == 0 && fdatasync(ob->fd) < 0) rc = -errno;
    if (rc < 0) {
        ob->write_errors++;
        if (ftruncate(ob->fd, (off_t)ob->file_bytes) < 0)
            log_error("outbox", "%s: cannot cut off a failed write: %s", ob->path, strerror(errno));
        return rc;
    }
    ob->file_bytes += rec->len;
    return 0;
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
    struct buf rec;
    buf_init(&rec, 0);
    frame(&rec, REC_DONE, id, NULL, 0);
    int rc = append_record(ob, &rec);
    buf_free(&rec);
    if (rc < 0)
        log_error("outbox",
                  "%s: cannot record that entry %llu is done (it will be sent again "
                  "after a restart): %s",
                  ob->path, (unsigned long long)id, strerror(-rc));
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
    buf_init(&e->p.body, 0);
    buf_append(&e->p.body, d + pos, len - pos);
    e->disk_bytes = REC_HEADER + len;
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

static int replay(struct outbox *ob, char *err, size_t errlen)
{
    char *data = NULL;
    size_t len = 0;
    int rc = file_read_all(ob->path, SIZE_MAX / 2, &data, &len);
    if (rc < 0) {
        snprintf(err, errlen, "%s: cannot read: %s", ob->path, strerror(-rc));
        return -1;
    }
    const unsigned char *d = (const unsigned char *)data;
    size_t pos = 0, adds = 0;
    while (pos + REC_HEADER <= len) {
        const unsigned char *h = d + pos;
        size_t dlen = get_u32(h + 8);
        if (get_u32(h) != REC_MAGIC || (h[4] != REC_ADD && h[4] != REC_DONE) ||
            dlen > REC_MAX_DATA || pos + REC_HEADER + dlen > len)
            break;
        uint32_t want = get_u32(h + 12);
        unsigned char zero[4] = {0};
        uLong crc = crc32(0, h, 12);
        crc = crc32(crc, zero, 4);
        crc = crc32(crc, h + 16, (uInt)(REC_HEADER - 16 + dlen));
        if ((uint32_t)crc != want) break;
        uint64_t id = get_u64(h + 16);
        if (h[4] == REC_ADD) {
            struct entry *e = parse_add(id, h + REC_HEADER, dlen);
            if (!e) break;
            if (ob->n && ob->entries[ob->n - 1]->id >= id) { /* ids only grow */
                entry_free(e);
                break;
            }
            push_entry(ob, e);
            adds++;
        } else {
            size_t i = find_entry(ob, id);
            if (i != SIZE_MAX) remove_at(ob, i);
            if (id >= ob->next_id) ob->next_id = id + 1;
        }
        pos += REC_HEADER + dlen;
    }
    free(data);
    ob->file_bytes = pos;
    if (pos < len) {
        log_warn("outbox",
                 "%s: cut off %zu bytes after the last whole record (a write cut by a "
                 "crash)",
                 ob->path, len - pos);
        if (ftruncate(ob->fd, (off_t)pos) < 0 || fsync(ob->fd) < 0) {
            snprintf(err, errlen, "%s: cannot cut off a torn record: %s", ob->path,
                     strerror(errno));
            return -1;
        }
    }
    if (ob->n)
        log_info("outbox", "%s: %zu notifications pending from before (of %zu written)", ob->path,
                 ob->n, adds);
    return 0;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -errno;
    int rc = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

/* Rewrites the log with only the pending entries (temp file, fsync, rename, fsync dir). */
static void compact(struct outbox *ob)
{
    if (ob->n == 0) {
        if (ob->file_bytes && ftruncate(ob->fd, 0) == 0 && fdatasync(ob->fd) == 0)
            ob->file_bytes = 0;
        return;
    }
    if (ob->file_bytes < COMPACT_MIN || ob->file_bytes < 4 * ob->live_bytes) return;
    char *tmp = xasprintf("%s.tmp", ob->path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    struct buf rec, d;
    buf_init(&rec, 0);
    buf_init(&d, 0);
    int rc = fd < 0 ? -errno : 0;
    for (size_t i = 0; i < ob->n && rc == 0; i++) {
        buf_reset(&d);
        add_data(&d, ob->entries[i]);
        frame(&rec, REC_ADD, ob->entries[i]->id, d.data, d.len);
        rc = write_all(fd, rec.data, rec.len);
    }
    if (rc == 0 && fsync(fd) < 0) rc = -errno;
    if (rc == 0 && rename(tmp, ob->path) < 0) rc = -errno;
    if (rc == 0) {
        fsync_dir(ob->dir);
        int nfd = open(ob->path, O_RDWR | O_APPEND | O_CLOEXEC);
        if (nfd >= 0) {
            close(ob->fd);
            ob->fd = nfd;
            ob->file_bytes = ob->live_bytes;
        } else {
            rc = -errno;
        }
    }
    if (rc < 0) {
        log_warn("outbox", "%s: compaction failed: %s", ob->path, strerror(-rc));
        unlink(tmp);
    }
    if (fd >= 0) close(fd);
    buf_free(&rec);
    buf_free(&d);
    free(tmp);
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
    compact(ob);
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

struct outbox *outbox_open(const struct outbox_opts *o, char *err, size_t errlen)
{
    struct outbox *ob = xcalloc(1, sizeof(*ob));
    ob->o = *o;
    ob->dir = xstrdup(o->dir);
    ob->path = xasprintf("%s/%s", o->dir, OUTBOX_FILE);
    ob->next_id = 1;
    ob->fd = -1;
    ob->rng = o->seed ? o->seed : ((uint64_t)time_mono_ms() * 0x9E3779B97F4A7C15ULL) | 1;
    if (ob->o.backoff_min_s < 0.01) ob->o.backoff_min_s = 0.01;
    if (ob->o.backoff_max_s < ob->o.backoff_min_s) ob->o.backoff_max_s = ob->o.backoff_min_s;
    bool created = access(ob->path, F_OK) != 0;
    if (mkdir(o->dir, 0700) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: cannot create: %s", o->dir, strerror(errno));
        goto fail;
    }
    ob->fd = open(ob->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (ob->fd < 0) {
        snprintf(err, errlen, "%s: cannot open: %s", ob->path, strerror(errno));
        goto fail;
    }
    if (created) fsync_dir(o->dir);
    if (replay(ob, err, errlen) < 0) goto fail;
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
    if (ob->fd >= 0) close(ob->fd);
    free(ob->dir);
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
    if (dropped) compact(ob);
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
    struct entry *e = xcalloc(1, sizeof(*e));
    e->id = ob->next_id;
    e->receiver = xstrdup(receiver);
    e->enqueued_at = now_s(ob);
    memcpy(e->p.content_type, p->content_type, sizeof(e->p.content_type));
    memcpy(e->p.dedupe_key, p->dedupe_key, sizeof(e->p.dedupe_key));
    e->p.content_type[sizeof(e->p.content_type) - 1] = '\0';
    e->p.dedupe_key[sizeof(e->p.dedupe_key) - 1] = '\0';
    buf_init(&e->p.body, 0);
    buf_append(&e->p.body, p->body.data, p->body.len);
    struct buf d, rec;
    buf_init(&d, 0);
    buf_init(&rec, 0);
    add_data(&d, e);
    frame(&rec, REC_ADD, e->id, d.data, d.len);
    e->disk_bytes = rec.len;
    int rc = append_record(ob, &rec);
    buf_free(&d);
    buf_free(&rec);
    if (rc < 0) {
        snprintf(err, errlen, "%s: cannot write: %s", ob->path, strerror(-rc));
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
}
