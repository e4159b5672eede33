/* test_outbox.c: the durable notification queue (alerts/outbox.c) with a scripted fake
 * notifier and a virtual clock, driven through outbox_tick without a loop: append, replay and
 * removal over a restart; a torn last record after a crash (cut off, the records before it
 * kept, appending works again); a damaged record in the middle (skipped and counted, the
 * records after it kept); a compaction while the process is out of fds; the retry schedule
 * (doubling with jitter inside its bounds, capped, Retry-After honoured exactly); final failures
 * dropped and counted; per-receiver order and independence; a send that never answers (timeout,
 * cancel); the caps; receivers removed by a reload; compaction; and the metrics. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "caps.h"
#include "log.h"
#include "outbox.h"
#include "tap.h"
#include "xalloc.h"

static double vnow = 1000.0;

static double vclock(void *arg)
{
    (void)arg;
    return vnow;
}

/* ---- a scripted notifier ---- */

#define MAX_SENT 256

struct fake {
    const char *name;
    /* what the next sends answer: 'o' ok, 'r' retry, 'R' retry with Retry-After 7, 'f' fail,
     * 'h' hold (no answer until fake_answer or a cancel); past the end: ok */
    const char *script;
    size_t step;
    char sent[MAX_SENT][80]; /* dedupe keys, in send order */
    double sent_at[MAX_SENT];
    size_t nsent;
    notifier_done_fn held;
    void *held_arg;
    int cancels;
};

static void fake_send(void *state, const struct payload *p, notifier_done_fn done, void *arg)
{
    struct fake *f = state;
    if (f->nsent < MAX_SENT) {
        snprintf(f->sent[f->nsent], sizeof(f->sent[0]), "%s", p->dedupe_key);
        f->sent_at[f->nsent] = vnow;
    }
    f->nsent++;
    char what = f->script && f->script[f->step] ? f->script[f->step++] : 'o';
    struct send_result r = {.outcome = SEND_OK, .retry_after_s = -1, .reason = "ok"};
    switch (what) {
    case 'h':
        f->held = done;
        f->held_arg = arg;
        return;
    case 'r': r = (struct send_result){SEND_RETRY, -1, "http_503", "busy"}; break;
    case 'R': r = (struct send_result){SEND_RETRY, 7, "http_429", "slow down"}; break;
    case 'f': r = (struct send_result){SEND_FAIL, -1, "http_400", "bad payload"}; break;
    default: break;
    }
    done(arg, &r);
}

static void fake_cancel(void *state)
{
    struct fake *f = state;
    f->held = NULL;
    f->cancels++;
}

static const struct notifier_ops fake_ops = {
    .type = "fake", .send = fake_send, .cancel = fake_cancel};

static void fake_answer(struct fake *f, enum send_outcome o)
{
    notifier_done_fn done = f->held;
    f->held = NULL;
    struct send_result r = {.outcome = o, .retry_after_s = -1, .reason = o == SEND_OK ? "ok" : "x"};
    if (done) done(f->held_arg, &r);
}

/* ---- helpers ---- */

/* Removes a test directory and everything in it. */
static void remove_dir(char *dir)
{
    char *cmd = xasprintf("rm -rf '%s'", dir);
    if (system(cmd) != 0) diag("could not remove %s", dir);
    free(cmd);
    free(dir);
}

static char *tmp_dir(void)
{
    char tmpl[] = "/tmp/drwatch-outbox-XXXXXX";
    return xstrdup(mkdtemp(tmpl));
}

static struct outbox *open_ob_caps(const char *dir, size_t max_entries, size_t max_bytes)
{
    struct outbox_opts o = {.dir = dir,
                            .max_entries = max_entries,
                            .max_bytes = max_bytes,
                            .backoff_min_s = 1,
                            .backoff_max_s = 300,
                            .clock = vclock,
                            .seed = 42};
    char err[256] = "";
    struct outbox *ob = outbox_open(&o, err, sizeof(err));
    if (!ob) diag("outbox_open: %s", err);
    return ob;
}

static struct outbox *open_ob(const char *dir, size_t max_entries)
{
    return open_ob_caps(dir, max_entries ? max_entries : 100, 1 << 20);
}

static void bind(struct outbox *ob, struct fake *a, struct fake *b)
{
    struct outbox_sender s[2] = {{"a", &fake_ops, a, 5000}, {"b", &fake_ops, b, 5000}};
    outbox_set_senders(ob, s, b ? 2 : 1);
}

static int append(struct outbox *ob, const char *receiver, const char *key, const char *body)
{
    struct payload p = {0};
    buf_init(&p.body, CAP_NOTIFY_PAYLOAD);
    buf_puts(&p.body, body);
    snprintf(p.content_type, sizeof(p.content_type), "application/json");
    snprintf(p.dedupe_key, sizeof(p.dedupe_key), "%s", key);
    char err[256];
    int rc = outbox_append(ob, receiver, &p, err, sizeof(err));
    buf_free(&p.body);
    return rc;
}

/* Ticks at every due time up to until. */
static void run_until(struct outbox *ob, double until)
{
    for (int guard = 0; guard < 10000; guard++) {
        double due = outbox_next_due(ob);
        if (due > until) break;
        if (due > vnow) vnow = due;
        outbox_tick(ob);
    }
    if (vnow < until) vnow = until;
}

static off_t file_size(const char *dir)
{
    char *path = xasprintf("%s/%s", dir, OUTBOX_FILE);
    struct stat st;
    off_t sz = stat(path, &st) == 0 ? st.st_size : -1;
    free(path);
    return sz;
}

static char *metrics_text(struct outbox *ob)
{
    struct metric_set *m = mset_new();
    outbox_metrics(ob, m);
    struct snapshot *s = snapshot_new(&m, 1, 1);
    const char *data;
    size_t len;
    must(snapshot_render(s, EXPO_TEXT, false, &data, &len));
    char *out = xstrndup(data, len);
    snapshot_unref(s);
    mset_unref(m);
    return out;
}

/* ---- tests ---- */

static void test_replay(void)
{
    char *dir = tmp_dir();
    struct fake a = {.script = "hhh"};
    struct outbox *ob = open_ob(dir, 0);
    bind(ob, &a, NULL);
    ok(append(ob, "a", "k1", "one") == 0 && append(ob, "a", "k2", "two") == 0 &&
           append(ob, "a", "k3", "three") == 0,
       "three notifications appended");
    outbox_tick(ob);
    is_int(a.nsent, 1, "one send at a time per receiver");
    is_int(outbox_pending(ob), 3, "all three pending while the first is in flight");
    outbox_free(ob); /* a crash or stop with a send in flight */
    is_int(a.cancels, 1, "freeing cancels the send in flight");

    struct fake a2 = {.script = "o"};
    ob = open_ob(dir, 0);
    is_int(outbox_pending(ob), 3, "after a restart the three are pending again");
    bind(ob, &a2, NULL);
    outbox_tick(ob);
    is_int(a2.nsent, 3, "all three sent after the restart");
    ok(a2.nsent == 3 && strcmp(a2.sent[0], "k1") == 0 && strcmp(a2.sent[1], "k2") == 0 &&
           strcmp(a2.sent[2], "k3") == 0,
       "in the order they were queued, with their dedupe keys");
    is_int(outbox_pending(ob), 0, "nothing pending after success");
    is_int(file_size(dir), 0, "a log with nothing pending is compacted to nothing");
    outbox_free(ob);
    ob = open_ob(dir, 0);
    is_int(outbox_pending(ob), 0, "and nothing comes back after another restart");
    outbox_free(ob);
    remove_dir(dir);
}

static void test_torn(void)
{
    char *dir = tmp_dir();
    struct outbox *ob = open_ob(dir, 0);
    append(ob, "a", "k1", "first body");
    off_t one = file_size(dir);
    append(ob, "a", "k2", "second body");
    off_t two = file_size(dir);
    outbox_free(ob);
    /* A crash in the middle of writing a third record: half of it on disk. */
    char *path = xasprintf("%s/%s", dir, OUTBOX_FILE);
    int fd = open(path, O_WRONLY | O_APPEND);
    char half[20];
    memset(half, 0x5a, sizeof(half));
    memcpy(half, "DWBO", 4);
    ok(write(fd, half, sizeof(half)) == (ssize_t)sizeof(half), "a torn record is appended");
    close(fd);
    ob = open_ob(dir, 0);
    is_int(outbox_pending(ob), 2, "replay keeps the two whole records");
    is_int(file_size(dir), two, "and cuts the torn tail off");
    ok(append(ob, "a", "k3", "third") == 0, "appending works after the cut");
    outbox_free(ob);
    ob = open_ob(dir, 0);
    is_int(outbox_pending(ob), 3, "the record appended after the cut replays");
    outbox_free(ob);

    /* A record cut in the middle of its body (a crash mid-write of a large one). */
    ok(truncate(path, two - 3) == 0, "the second record loses its last bytes");
    ob = open_ob(dir, 0);
    is_int(outbox_pending(ob), 1, "only the first record survives");
    is_int(file_size(dir), one, "the file ends after it");
    outbox_free(ob);

    /* A flipped byte inside the last record fails its CRC; with nothing whole after it, it
     * cannot be told from a torn write, and is cut off like one. */
    fd = open(path, O_RDWR);
    char c;
    ok(pread(fd, &c, 1, one - 2) == 1, "read a byte of the body");
    c ^= 0x20;
    ok(pwrite(fd, &c, 1, one - 2) == 1, "flip a bit in the body");
    close(fd);
    ob = open_ob(dir, 0);
    is_int(outbox_pending(ob), 0, "a last record whose CRC fails is not replayed");
    outbox_free(ob);
    free(path);
    remove_dir(dir);
}

static void test_delays(void)
{
    int in_bounds = 1;
    for (unsigned attempt = 1; attempt <= 12; attempt++) {
        double base = fmin(300, pow(2, attempt - 1));
        double lo = outbox_retry_delay(1, 300, attempt, -1, 0);
        double hi = outbox_retry_delay(1, 300, attempt, -1, 0.999999);
        if (fabs(lo - base / 2) > 1e-9 || fabs(hi - base) > 1e-3) in_bounds = 0;
    }
    ok(in_bounds, "delay after attempt n is in [b/2, b], b = 1s * 2^(n-1) capped at 5m");
    is_int((int)outbox_retry_delay(1, 300, 3, 7, 0.5), 7, "Retry-After is honoured exactly");
    is_int((int)outbox_retry_delay(1, 300, 1, 86400, 0.5), 3600, "and capped at an hour");
}

static void test_retries(void)
{
    char *dir = tmp_dir();
    vnow = 1000;
    struct fake a = {.script = "rrrrR"};
    struct outbox *ob = open_ob(dir, 0);
    bind(ob, &a, NULL);
    append(ob, "a", "k1", "x");
    run_until(ob, 2000);
    is_int(a.nsent, 6, "five failures, then success");
    int good = a.nsent == 6;
    for (size_t i = 1; i < 5 && good; i++) {
        double gap = a.sent_at[i] - a.sent_at[i - 1], b = pow(2, (double)i - 1);
        if (gap < b / 2 - 1e-6 || gap > b + 1e-6) {
            good = 0;
            diag("retry %zu after %.3fs, expected %.1f to %.1f", i, gap, b / 2, b);
        }
    }
    ok(good, "retries back off: 1s, 2s, 4s, 8s, each with jitter in [b/2, b]");
    ok(a.nsent == 6 && fabs(a.sent_at[5] - a.sent_at[4] - 7) < 1e-6,
       "after a 429 with Retry-After: 7, the next try is exactly 7s later");
    char *m = metrics_text(ob);
    ok(strstr(m, "drwatch_notifications_total{receiver=\"a\",result=\"http_503\"} 4") &&
           strstr(m, "drwatch_notifications_total{receiver=\"a\",result=\"http_429\"} 1") &&
           strstr(m, "drwatch_notifications_total{receiver=\"a\",result=\"ok\"} 1"),
       "each attempt is counted by result");
    ok(strstr(m, "drwatch_notification_latency_seconds_count{receiver=\"a\"} 1") &&
           strstr(m, "drwatch_outbox_entries 0"),
       "latency observed once, from enqueue to success; the outbox is empty");
    free(m);

    /* A final failure is dropped and the next entry goes on. */
    struct fake b = {.script = "f"};
    bind(ob, &b, NULL);
    append(ob, "a", "k2", "bad");
    append(ob, "a", "k3", "good");
    run_until(ob, vnow + 1);
    is_int(b.nsent, 2, "a 4xx is not retried: the next notification is sent");
    is_int(outbox_pending(ob), 0, "the refused one is dropped");
    m = metrics_text(ob);
    ok(strstr(m, "drwatch_notifications_total{receiver=\"a\",result=\"http_400\"} 1") != NULL,
       "and counted as http_400");
    free(m);
    outbox_free(ob);
    remove_dir(dir);
}

static void test_receivers(void)
{
    char *dir = tmp_dir();
    vnow = 5000;
    struct fake a = {.script = "hr"}, b = {0};
    struct outbox *ob = open_ob(dir, 0);
    bind(ob, &a, &b);
    append(ob, "a", "a1", "x");
    append(ob, "b", "b1", "x");
    append(ob, "a", "a2", "x");
    append(ob, "b", "b2", "x");
    outbox_tick(ob);
    ok(a.nsent == 1 && b.nsent == 2, "a slow receiver holds only its own queue");
    /* The held send never answers: after the timeout (5s) and a grace second it is cancelled
     * and retried. */
    run_until(ob, 5005.5);
    is_int(a.cancels, 0, "not cancelled before its timeout");
    run_until(ob, 5006.01);
    is_int(a.cancels, 1, "cancelled at its timeout (5s and a grace second)");
    run_until(ob, 5007.01);
    is_int(a.nsent, 2, "and sent again after a backoff of 0.5s to 1s");
    ok(strcmp(a.sent[1], "a1") == 0, "the same notification, first in line");
    run_until(ob, 5100);
    ok(a.nsent == 4 && strcmp(a.sent[3], "a2") == 0, "then a2 after a1 succeeded");
    char *m = metrics_text(ob);
    ok(strstr(m, "result=\"timeout\"} 1") != NULL, "the timeout is counted");
    free(m);

    /* A reload without receiver b drops b's pending notifications. */
    struct fake hold = {.script = "hhhh"};
    bind(ob, &hold, &b);
    b.script = "hhh";
    b.step = 0;
    append(ob, "b", "b3", "x");
    append(ob, "b", "b4", "x");
    outbox_tick(ob);
    struct outbox_sender only_a = {"a", &fake_ops, &hold, 5000};
    outbox_set_senders(ob, &only_a, 1);
    is_int(b.cancels, 1, "a rebinding cancels the send in flight");
    is_int(outbox_pending(ob), 0, "notifications for a receiver no longer configured are dropped");
    m = metrics_text(ob);
    ok(strstr(m, "drwatch_notifications_total{receiver=\"b\",result=\"no_receiver\"} 2") != NULL,
       "counted as no_receiver");
    free(m);
    outbox_free(ob);
    remove_dir(dir);
}

static void test_caps(void)
{
    char *dir = tmp_dir();
    struct fake a = {.script = "h"};
    struct outbox *ob = open_ob(dir, 3);
    bind(ob, &a, NULL);
    append(ob, "a", "k1", "x");
    outbox_tick(ob); /* k1 in flight */
    for (int i = 2; i <= 5; i++) {
        char key[16];
        snprintf(key, sizeof(key), "k%d", i);
        append(ob, "a", key, "x");
    }
    is_int(outbox_pending(ob), 3, "at most max_entries are kept");
    ok(a.cancels == 1, "the oldest, in flight, was cancelled when dropped");
    char *m = metrics_text(ob);
    ok(strstr(m, "drwatch_notifications_total{receiver=\"a\",result=\"dropped\"} 2") != NULL,
       "the two oldest are dropped and counted");
    free(m);
    a.script = NULL;
    outbox_tick(ob);
    ok(a.nsent == 4 && strcmp(a.sent[1], "k3") == 0 && strcmp(a.sent[3], "k5") == 0,
       "the three newest are delivered");
    struct payload big = {0};
    buf_init(&big.body, OUTBOX_MAX_PAYLOAD + 2);
    if (buf_reserve(&big.body, OUTBOX_MAX_PAYLOAD + 2) < 0) abort(); /* under its own cap */
    memset(big.body.data, 'x', OUTBOX_MAX_PAYLOAD + 1);
    big.body.len = OUTBOX_MAX_PAYLOAD + 1;
    char err[256];
    is_int(outbox_append(ob, "a", &big, err, sizeof(err)), -E2BIG,
           "a payload over the cap is refused");
    buf_free(&big.body);
    outbox_free(ob);
    remove_dir(dir);
}

static void test_compaction(void)
{
    char *dir = tmp_dir();
    struct fake a = {.script = "h"};
    struct outbox *ob = open_ob(dir, 0);
    bind(ob, &a, NULL);
    char body[4096];
    memset(body, 'b', sizeof(body) - 1);
    body[sizeof(body) - 1] = '\0';
    append(ob, "a", "stuck", "x"); /* held in flight: the log never empties */
    outbox_tick(ob);
    struct fake b = {0};
    struct outbox_sender s[2] = {{"a", &fake_ops, &a, 600000}, {"b", &fake_ops, &b, 5000}};
    outbox_set_senders(ob, s, 2);
    a.held = NULL;
    a.script = "hh";
    a.step = 0;
    outbox_tick(ob);
    for (int i = 0; i < 600; i++) {
        char key[16];
        snprintf(key, sizeof(key), "b%d", i);
        append(ob, "b", key, body);
        outbox_tick(ob);
    }
    is_int(b.nsent, 600, "600 notifications of 4 KiB delivered");
    ok(file_size(dir) < (1 << 20) + 8192, "the log is compacted while one entry stays pending");
    outbox_free(ob);
    ob = open_ob(dir, 0);
    is_int(outbox_pending(ob), 1, "after compaction the pending entry still replays");
    outbox_free(ob);
    remove_dir(dir);
}

/* Flips one bit of the byte at off in dir's log. */
static int flip_byte(const char *dir, off_t off)
{
    char *path = xasprintf("%s/%s", dir, OUTBOX_FILE);
    int fd = open(path, O_RDWR);
    free(path);
    char c;
    int good = fd >= 0 && pread(fd, &c, 1, off) == 1;
    c ^= 0x20;
    good = good && pwrite(fd, &c, 1, off) == 1;
    if (fd >= 0) close(fd);
    return good;
}

/* The keys a fresh, always-succeeding receiver "a" is sent from a reopened outbox, in order,
 * joined by spaces (the outbox is delivered and freed). */
static char *keys_after_restart(const char *dir)
{
    struct outbox *ob = open_ob(dir, 0);
    struct fake all = {0};
    bind(ob, &all, NULL);
    outbox_tick(ob);
    struct buf keys;
    buf_init(&keys, 1 << 20);
    for (size_t i = 0; i < all.nsent && i < MAX_SENT; i++)
        buf_printf(&keys, "%s%s", i ? " " : "", all.sent[i]);
    outbox_free(ob);
    char *out = xstrdup(keys.data ? keys.data : "");
    buf_free(&keys);
    return out;
}

/* Regression: replay stopped at the first bad record and cut the file there, so one flipped
 * byte in record 2 of 5 lost records 3 to 5, which were intact, and the log blamed a crash.
 * A damaged record in the middle is skipped and counted; the records after it are kept. */
static void test_corrupt_middle(void)
{
    char *dir = tmp_dir();
    struct outbox *ob = open_ob(dir, 0);
    off_t end[6] = {0};
    for (int i = 1; i <= 5; i++) {
        char key[16];
        snprintf(key, sizeof(key), "k%d", i);
        append(ob, "a", key, "a body of some length");
        end[i] = file_size(dir);
    }
    outbox_free(ob);
    ok(flip_byte(dir, end[1] + (end[2] - end[1]) / 2 + 4), "one byte of record 2's body flips");
    ob = open_ob(dir, 0);
    is_int(outbox_pending(ob), 4, "corrupt record 2 of 5: records 1, 3, 4 and 5 are pending");
    char *m = metrics_text(ob);
    ok(strstr(m, "drwatch_outbox_corrupt_records_total 1\n") != NULL,
       "the damaged record is counted as corruption");
    free(m);
    outbox_free(ob);
    char *keys = keys_after_restart(dir);
    is_str(keys, "k1 k3 k4 k5", "after another restart the intact records are still there");
    free(keys);
    remove_dir(dir);

    /* Damage to a header (the length field of record 3) is skipped the same way. */
    dir = tmp_dir();
    ob = open_ob(dir, 0);
    for (int i = 1; i <= 5; i++) {
        char key[16];
        snprintf(key, sizeof(key), "k%d", i);
        append(ob, "a", key, "a body of some length");
        end[i] = file_size(dir);
    }
    outbox_free(ob);
    ok(flip_byte(dir, end[2] + 9), "one byte of record 3's length field flips");
    keys = keys_after_restart(dir);
    is_str(keys, "k1 k2 k4 k5", "a damaged header loses only its own record");
    free(keys);
    remove_dir(dir);
}

/* Regression: when reopening the log after compaction failed (no fds left), the outbox kept
 * writing to the renamed-away file, and what it wrote after that (new notifications, removal
 * records) was gone at the next restart. Here the process has exactly one fd left while a
 * compaction runs: the compaction must then fail and keep the old file, or complete. */
static void test_compaction_without_fds(void)
{
    char *dir = tmp_dir();
    struct outbox *ob = open_ob_caps(dir, 1000, 4 << 20);
    struct fake a = {.script = "h"}, b = {.script = NULL};
    char hold[400];
    memset(hold, 'h', sizeof(hold) - 1);
    hold[sizeof(hold) - 1] = '\0';
    b.script = hold;
    bind(ob, &a, &b);
    append(ob, "a", "stuck", "x"); /* held in flight: the log never empties */
    char body[4096];
    memset(body, 'b', sizeof(body) - 1);
    body[sizeof(body) - 1] = '\0';
    for (int i = 0; i < 300; i++) {
        char key[16];
        snprintf(key, sizeof(key), "b%d", i);
        append(ob, "b", key, body);
    }
    outbox_tick(ob);
    ok(file_size(dir) > (1 << 20), "a log of more than 1 MiB, every entry live");
    struct rlimit old;
    getrlimit(RLIMIT_NOFILE, &old);
    int probe = open("/dev/null", O_RDONLY);
    close(probe);
    struct rlimit tight = {.rlim_cur = (rlim_t)probe + 1, .rlim_max = old.rlim_max};
    ok(probe > 0 && setrlimit(RLIMIT_NOFILE, &tight) == 0, "the process has one fd left");
    for (int i = 0; i < 300; i++) { /* compaction is due on the way */
        fake_answer(&b, SEND_OK);
        outbox_tick(ob);
    }
    ok(setrlimit(RLIMIT_NOFILE, &old) == 0, "the fd limit is lifted again");
    is_int(b.nsent, 300, "the 300 notifications to b are delivered");
    ok(append(ob, "a", "after1", "x") == 0 && append(ob, "a", "after2", "x") == 0,
       "two notifications are queued after that");
    outbox_free(ob);
    char *keys = keys_after_restart(dir);
    is_str(keys, "stuck after1 after2",
           "after a restart: the pending entry and the two queued after the compaction");
    free(keys);
    remove_dir(dir);
}

int main(void)
{
    must(log_set_level_name("error"));
    test_replay();
    test_torn();
    test_delays();
    test_retries();
    test_receivers();
    test_caps();
    test_compaction();
    test_corrupt_middle();
    test_compaction_without_fds();
    return done_testing();
}
