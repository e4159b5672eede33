/* test_switchover_peer.c: the peer protocol between two switchover parts (gold and golddr) in
 * one process, joined by a wire that carries each message's bytes to the other part's
 * switchover_peer_message and its answer's bytes back (site/peer_msg.h both ways), on a real
 * loop with fake actuators. What it proves:
 *   - a transition that needs the peer is answered at once (202, awaiting the peer) and starts
 *     under the request's id only when the peer's yes names that id; the peer logs and counts
 *     the confirm;
 *   - an answer naming another message starts nothing (and the request is refused);
 *   - the peer's no, its silence past peer_timeout, and an unreachable peer each refuse the
 *     request with that reason, journaled, counted and shown by switchover_awaited;
 *   - while a request awaits, other requests are refused and the peer is told "no" when it
 *     asks this site to confirm;
 *   - the confirm decision: yes only in a required state with nothing pending; a transition
 *     the table does not have, or needing other states, is a no;
 *   - a seq already taken is refused as a replay and counted, also after a restart;
 *   - a transition message is judged as a request from the peer: yes with its run, the same
 *     message id again answers the same without a second run, a refusal is a no with its
 *     reason;
 *   - the tell_peer actuator: the peer's yes ends the step done, its no fails it with the
 *     reason; a run the peer asked for tells nothing back. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actuators.h"
#include "buf.h"
#include "fake_actuators.h"
#include "fileio.h"
#include "one_plan.h"
#include "peer_link.h"
#include "peer_msg.h"
#include "switchover.h"
#include "tap.h"

static double clock_now = 20000;

static double test_clock(void *arg)
{
    (void)arg;
    return clock_now;
}

/* ---- the wire: one direction of the link ---- */

enum wire_mode { WIRE_PASS, WIRE_SILENT, WIRE_DOWN, WIRE_MANUAL };

struct wire {
    struct loop *loop;
    struct switchover *to; /* the receiving part */
    enum wire_mode mode;
    struct loop_timer *t;
    httpc_done_fn done;
    void *arg;
    char path[64];
    char body[PEER_MSG_MAX + 1];
    size_t len;
    char answer[2 * PEER_MSG_MAX];
    int posts;
};

static struct wire to_golddr, to_gold; /* gold's messages go on to_golddr */

static void deliver(struct wire *w, long status, bool ok_, const char *body)
{
    struct httpc_result r = {.ok = ok_,
                             .status = status,
                             .reason = ok_ ? NULL : "connect",
                             .error = ok_ ? NULL : "Connection refused",
                             .body = body ? body : "",
                             .body_len = body ? strlen(body) : 0};
    httpc_done_fn done = w->done;
    w->done = NULL;
    if (done) done(w->arg, &r);
}

static void on_wire(void *arg)
{
    struct wire *w = arg;
    if (w->mode == WIRE_DOWN) return deliver(w, 0, false, NULL);
    struct peer_msg m;
    struct peer_answer a = {0};
    char err[200];
    struct buf b;
    buf_init(&b, sizeof(w->answer));
    long status = 200;
    int kind = peer_msg_kind_of_path(w->path);
    if (kind < 0 ||
        peer_msg_parse(w->body, w->len, (enum peer_msg_kind)kind, &m, err, sizeof(err)) < 0) {
        status = 400;
        snprintf(a.reason, sizeof(a.reason), "%s", err);
    } else {
        snprintf(a.id, sizeof(a.id), "%s", m.id);
        a.seq = m.seq;
        switchover_peer_message(w->to, &m, "DNS:drwatch.test", &a);
    }
    if (peer_answer_encode(&a, &b) < 0) diag("the answer could not be encoded");
    snprintf(w->answer, sizeof(w->answer), "%s", b.data ? b.data : "");
    buf_free(&b);
    deliver(w, status, true, w->answer);
}

static void *wire_post(void *arg, const char *path, const char *body, size_t len,
                       int64_t timeout_ms, httpc_done_fn done, void *done_arg)
{
    (void)timeout_ms;
    struct wire *w = arg;
    snprintf(w->path, sizeof(w->path), "%s", path);
    memcpy(w->body, body, len);
    w->body[len] = '\0';
    w->len = len;
    w->done = done;
    w->arg = done_arg;
    w->posts++;
    if (w->mode == WIRE_PASS || w->mode == WIRE_DOWN) loop_timer_start(w->t, 0);
    return w;
}

static void wire_cancel(void *arg, void *req)
{
    (void)req;
    struct wire *w = arg;
    loop_timer_stop(w->t);
    w->done = NULL;
}

static const struct sw_peer_transport gold_transport = {wire_post, wire_cancel, &to_golddr};
static const struct sw_peer_transport golddr_transport = {wire_post, wire_cancel, &to_gold};

/* ---- the parts ---- */

static char swdirs[16][64];
static size_t ndirs;

static const char *fresh_dir(void)
{
    snprintf(swdirs[ndirs], sizeof(swdirs[0]), "/tmp/drwatch-test-swpeer-XXXXXX");
    if (!mkdtemp(swdirs[ndirs])) diag("mkdtemp failed");
    return swdirs[ndirs++];
}

/* The actuators: the fakes, or the fakes with the real tell_peer. */
static const struct actuator_ops *mixed[9];
static struct act_env tell_env[SW_SITE_COUNT];
static char *plans_file; /* NULL: the built-in plans */

static struct switchover *make(struct loop *l, const char *site, const char *dir, bool real_tell)
{
    bool gold = strcmp(site, "gold") == 0;
    struct switchover_config c = {.data_dir = (char *)dir,
                                  .plans_file = plans_file,
                                  .cooldown_ms = 600000,
                                  .samples = 3,
                                  .hold_ms = 15000,
                                  .rpo_ms = 30000,
                                  .fresh_ms = 15000,
                                  .peer_timeout_ms = 300};
    struct switchover_env env = {.loop = l,
                                 .site = site,
                                 .actuators = real_tell ? mixed : table,
                                 .nactuators = 9,
                                 .actuator_env = real_tell ? &tell_env[gold ? 0 : 1] : NULL,
                                 .clock = test_clock,
                                 .peer_transport = gold ? &gold_transport : &golddr_transport};
    char err[512];
    struct switchover *sw = switchover_new(&c, &env, err, sizeof(err));
    if (!sw) diag("%s", err);
    if (sw && real_tell) tell_env[gold ? 0 : 1].peer = switchover_peer_link(sw);
    (gold ? &to_gold : &to_golddr)->to = sw;
    return sw;
}

/* Publishes a world in which this site's ConfigMap says label, and the peer publishes
 * peer_state (NULL: the peer is unreachable). */
static void observe(struct switchover *sw, const char *self, const char *label,
                    const char *peer_state)
{
    struct metric_set *m = mset_new();
    struct metric_family *f = mset_family(m, "drwatch_configmap_state_info", METRIC_GAUGE, "test");
    struct label_pair l[2] = {{"site", self}, {"last_stable_state", label}};
    mset_add(m, f, SUFFIX_NONE, l, 2, 1);
    f = mset_family(m, "drwatch_collector_up", METRIC_GAUGE, "test");
    struct label_pair up[1] = {{"collector", "peer"}};
    mset_add(m, f, SUFFIX_NONE, up, 1, peer_state != NULL);
    if (peer_state) {
        f = mset_family(m, "drwatch_peer_info", METRIC_GAUGE, "test");
        struct label_pair st[1] = {{"state", peer_state}};
        mset_add(m, f, SUFFIX_NONE, st, 1, 1);
    }
    struct snapshot *snap = snapshot_new(&m, 1, 1);
    mset_unref(m);
    switchover_observe(sw, snap);
    snapshot_unref(snap);
}

/* Runs the loop for up to ms, or until pred holds. */
static bool run_until(struct loop *l, bool (*pred)(void *), void *arg, int ms)
{
    for (int i = 0; i < ms / 5; i++) {
        if (pred && pred(arg)) return true;
        struct loop_timer *t = loop_timer_new(l, (loop_fn)loop_stop, l);
        loop_timer_start(t, 5);
        loop_run(l);
        loop_timer_free(t);
    }
    return pred ? pred(arg) : true;
}

static bool idle(void *arg)
{
    return !switchover_busy(arg);
}

static int ask(struct switchover *sw, const char *to, struct sw_reply *out)
{
    struct sw_request r = {.source = SW_SOURCE_API};
    snprintf(r.to, sizeof(r.to), "%s", to);
    snprintf(r.reason, sizeof(r.reason), "test");
    memset(out, 0, sizeof(*out));
    buf_init(&out->plan, 1 << 20);
    int rc = switchover_request(sw, &r, out);
    buf_free(&out->plan);
    return rc;
}

static bool metric_has(struct switchover *sw, const char *text)
{
    struct metric_set *ms = switchover_metrics(sw);
    struct snapshot *snap = snapshot_new(&ms, 1, 1);
    const char *body;
    size_t len;
    bool found = snapshot_render(snap, EXPO_TEXT, false, &body, &len) == 0 && strstr(body, text);
    if (!found) diag("no \"%s\" in the metrics", text);
    snapshot_unref(snap);
    mset_unref(ms);
    return found;
}

static bool journal_has(const char *dir, const char *text)
{
    char path[128], *data = NULL;
    size_t len;
    snprintf(path, sizeof(path), "%s/%s", dir, SW_JOURNAL_FILE);
    bool found =
        file_read_all(path, 1 << 20, &data, &len) == 0 && memmem(data, len, text, strlen(text));
    free(data);
    return found;
}

/* A message as gold would send it, straight to golddr's part; returns the answer. */
static struct peer_answer send_direct(struct switchover *to, enum peer_msg_kind kind,
                                      const char *id, uint64_t seq, const char *sender_state,
                                      const char *target, const char *required)
{
    struct peer_msg m = {.kind = kind, .seq = seq};
    struct peer_answer a = {.seq = seq};
    snprintf(m.id, sizeof(m.id), "%s", id);
    snprintf(a.id, sizeof(a.id), "%s", id);
    snprintf(m.from_site, sizeof(m.from_site), "gold");
    snprintf(m.sender_state, sizeof(m.sender_state), "%s", sender_state);
    snprintf(m.to, sizeof(m.to), "%s", target ? target : "");
    if (required) {
        snprintf(m.required[0], sizeof(m.required[0]), "%s", required);
        m.nrequired = 1;
    }
    switchover_peer_message(to, &m, "DNS:drwatch.gold.test", &a);
    return a;
}

/* ---- the handshake ---- */

static bool not_awaiting(void *arg)
{
    return !switchover_awaited(arg, NULL);
}

static void test_confirmed(struct loop *l)
{
    const char *gd = fresh_dir(), *dd = fresh_dir();
    struct switchover *gold = make(l, "gold", gd, false), *golddr = make(l, "golddr", dd, false);
    observe(gold, "gold", "golddr-primary", "golddr-primary");
    observe(golddr, "golddr", "golddr-primary", "golddr-primary");
    to_golddr.mode = WIRE_PASS;
    struct sw_reply out;
    buf_reset(&F.calls);
    ok(ask(gold, "gold-standby", &out) == 0 && out.status == 202 && out.run_id[0] &&
           strstr(out.reason, "awaiting the peer's confirmation that it is golddr-primary"),
       "gold-standby: 202 at once, awaiting the peer (%s)", out.reason);
    char id[48];
    snprintf(id, sizeof(id), "%s", out.run_id);
    const struct sw_awaited *aw = switchover_awaited(gold, NULL);
    ok(aw && strcmp(aw->id, id) == 0 && aw->status == SW_AWAIT_PENDING && switchover_busy(gold) &&
           !switchover_current(gold, NULL, NULL),
       "the request awaits under its id; nothing runs yet");
    ok(metric_has(gold, "drwatch_transition_awaiting_peer 1"),
       "drwatch_transition_awaiting_peer 1");
    ok(strstr(to_golddr.body, "\"kind\":\"confirm\"") && strstr(to_golddr.body, id) &&
           strstr(to_golddr.body, "\"required_states\":[\"golddr-primary\"]"),
       "the confirm message carries the id and the required state: %s", to_golddr.body);
    struct sw_reply other;
    ok(ask(gold, "active-passive-force", &other) == -1 &&
           strstr(other.reason, "awaits the peer's confirmation"),
       "another request meanwhile is refused (%s)", other.reason);
    struct peer_msg pm = {.kind = PEER_MSG_CONFIRM, .seq = 5};
    struct peer_answer pa = {0};
    snprintf(pm.id, sizeof(pm.id), "golddr-1-0002");
    snprintf(pm.from_site, sizeof(pm.from_site), "golddr");
    snprintf(pm.sender_state, sizeof(pm.sender_state), "golddr-primary");
    snprintf(pm.required[0], sizeof(pm.required[0]), "golddr-primary");
    pm.nrequired = 1;
    switchover_peer_message(gold, &pm, "DNS:drwatch.golddr.test", &pa);
    ok(!pa.yes && strstr(pa.reason, "asked for or running here"),
       "the peer asking gold to confirm meanwhile hears no (%s)", pa.reason);

    run_until(l, not_awaiting, gold, 500);
    const struct sw_run_record *run = switchover_record(gold, id);
    ok(run && strcmp(run->start.id, id) == 0 && run->start.to == SW_GOLD_STANDBY &&
           switchover_awaited(gold, id)->status == SW_AWAIT_STARTED,
       "golddr said yes: gold's run starts under the request's id (%s)",
       run ? run->start.id : "none");
    ok(metric_has(golddr, "drwatch_peer_messages_total{answer=\"yes\",kind=\"confirm\"} 1"),
       "golddr counted the confirm it said yes to");
    ok(metric_has(gold, "drwatch_peer_requests_total{answer=\"yes\",kind=\"confirm\"} 1") &&
           metric_has(gold, "drwatch_transition_requests_total{result=\"accepted\",source=\"api\","
                            "to=\"gold-standby\"} 1"),
       "gold counted the peer's yes and the accepted request");
    run_until(l, idle, gold, 2000);
    ok(switchover_state(gold) == SW_GOLD_STANDBY && strstr(F.calls.data, "act:patroni_demote"),
       "and the plan ran to gold-standby");
    switchover_free(gold);
    switchover_free(golddr);
}

static void test_other_id(struct loop *l)
{
    const char *gd = fresh_dir(), *dd = fresh_dir();
    struct switchover *gold = make(l, "gold", gd, false), *golddr = make(l, "golddr", dd, false);
    observe(gold, "gold", "golddr-primary", "golddr-primary");
    to_golddr.mode = WIRE_MANUAL;
    struct sw_reply out;
    ok(ask(gold, "gold-standby", &out) == 0 && out.status == 202, "gold asks golddr to confirm");
    struct peer_msg sent;
    char err[200];
    must(peer_msg_parse(to_golddr.body, to_golddr.len, PEER_MSG_CONFIRM, &sent, err, sizeof(err)));
    char answer[512];
    snprintf(answer, sizeof(answer),
             "{\"format\":\"drwatch-peer-answer/1\",\"id\":\"gold-1-ffff\",\"seq\":%llu,"
             "\"answer\":\"yes\",\"reason\":\"a yes to something else\",\"state\":"
             "\"golddr-primary\"}",
             (unsigned long long)sent.seq);
    deliver(&to_golddr, 200, true, answer);
    ok(!switchover_current(gold, NULL, NULL) && !switchover_busy(gold),
       "a yes naming another message starts nothing");
    const struct sw_awaited *aw = switchover_awaited(gold, out.run_id);
    ok(aw && aw->status == SW_AWAIT_REFUSED && strstr(aw->detail, "not usable") &&
           strstr(aw->detail, "gold-1-ffff"),
       "the request is refused, saying why (%s)", aw ? aw->detail : "none");
    ok(metric_has(gold, "drwatch_peer_requests_total{answer=\"bad_answer\",kind=\"confirm\"} 1"),
       "counted as a bad answer");

    ok(ask(gold, "gold-standby", &out) == 0, "asked again");
    must(peer_msg_parse(to_golddr.body, to_golddr.len, PEER_MSG_CONFIRM, &sent, err, sizeof(err)));
    snprintf(answer, sizeof(answer),
             "{\"format\":\"drwatch-peer-answer/1\",\"id\":\"%s\",\"seq\":%llu,\"answer\":"
             "\"yes\",\"reason\":\"an old answer\",\"state\":\"golddr-primary\"}",
             sent.id, (unsigned long long)sent.seq - 1);
    deliver(&to_golddr, 200, true, answer);
    ok(!switchover_current(gold, NULL, NULL) && !switchover_busy(gold),
       "a yes with the right id but another seq starts nothing either");
    switchover_free(gold);
    switchover_free(golddr);
}

static void test_no_timeout_unreachable(struct loop *l)
{
    const char *gd = fresh_dir(), *dd = fresh_dir();
    struct switchover *gold = make(l, "gold", gd, false), *golddr = make(l, "golddr", dd, false);
    observe(gold, "gold", "golddr-primary", "golddr-primary");
    observe(golddr, "golddr", "active-passive", "golddr-primary");
    to_golddr.mode = WIRE_PASS;
    struct sw_reply out;
    ok(ask(gold, "gold-standby", &out) == 0 && out.status == 202,
       "gold asks; golddr is active-passive");
    run_until(l, not_awaiting, gold, 500);
    const struct sw_awaited *aw = switchover_awaited(gold, out.run_id);
    ok(aw && aw->status == SW_AWAIT_REFUSED &&
           strstr(aw->detail, "the peer answered no: this site is active-passive, not "
                              "golddr-primary") &&
           !switchover_current(gold, NULL, NULL),
       "golddr's explicit no refuses the request, nothing started (%s)", aw ? aw->detail : "");
    ok(journal_has(gd, "the peer answered no") && journal_has(gd, "\"kind\":\"awaiting_peer\""),
       "journaled: the wait and the refusal");
    ok(metric_has(gold, "drwatch_transition_requests_total{result=\"refused\",source=\"api\","
                        "to=\"gold-standby\"} 1") &&
           metric_has(gold, "drwatch_peer_requests_total{answer=\"no\",kind=\"confirm\"} 1") &&
           metric_has(golddr, "drwatch_peer_messages_total{answer=\"no\",kind=\"confirm\"} 1"),
       "counted on both sides");

    to_golddr.mode = WIRE_SILENT;
    ok(ask(gold, "gold-standby", &out) == 0, "golddr silent");
    ok(!run_until(l, not_awaiting, gold, 150), "the request waits within peer_timeout");
    run_until(l, not_awaiting, gold, 1000);
    aw = switchover_awaited(gold, out.run_id);
    ok(aw && aw->status == SW_AWAIT_REFUSED && strstr(aw->detail, "did not answer in time"),
       "then it is refused for the timeout (%s)", aw ? aw->detail : "");
    ok(metric_has(gold, "drwatch_peer_requests_total{answer=\"timeout\",kind=\"confirm\"} 1"),
       "counted");

    to_golddr.mode = WIRE_DOWN;
    ok(ask(gold, "gold-standby", &out) == 0, "golddr down");
    run_until(l, not_awaiting, gold, 1000);
    aw = switchover_awaited(gold, out.run_id);
    ok(aw && aw->status == SW_AWAIT_REFUSED && strstr(aw->detail, "unreachable") &&
           strstr(aw->detail, "Connection refused"),
       "refused: unreachable (%s)", aw ? aw->detail : "");
    ok(metric_has(gold, "drwatch_peer_requests_total{answer=\"unreachable\",kind=\"confirm\"} 1"),
       "counted");
    switchover_free(gold);
    switchover_free(golddr);
}

/* ---- the receiving side ---- */

static void test_receiver(struct loop *l)
{
    const char *dd = fresh_dir();
    struct switchover *golddr = make(l, "golddr", dd, false);
    observe(golddr, "golddr", "golddr-primary", NULL);
    struct peer_answer a = send_direct(golddr, PEER_MSG_CONFIRM, "gold-1-0001", 100,
                                       "golddr-primary", "gold-standby", "golddr-primary");
    ok(a.yes && strcmp(a.state, "golddr-primary") == 0 && strcmp(a.site, "golddr") == 0,
       "confirm: golddr-primary with nothing pending: yes (%s)", a.reason);
    a = send_direct(golddr, PEER_MSG_CONFIRM, "gold-1-0002", 100, "golddr-primary", "gold-standby",
                    "golddr-primary");
    ok(!a.yes && strstr(a.reason, "replayed: seq 100 is not above 100"),
       "the same seq again: no, a replay (%s)", a.reason);
    a = send_direct(golddr, PEER_MSG_CONFIRM, "gold-1-0003", 99, "golddr-primary", "gold-standby",
                    "golddr-primary");
    ok(!a.yes && strstr(a.reason, "replayed"), "a lower seq too");
    ok(metric_has(golddr, "drwatch_peer_messages_total{answer=\"replayed\",kind=\"confirm\"} 2"),
       "replays are counted");
    a = send_direct(golddr, PEER_MSG_CONFIRM, "gold-1-0004", 101, "golddr-primary", "gold-standby",
                    "active-passive");
    ok(!a.yes && strstr(a.reason, "needs this site golddr-primary, not active-passive"),
       "required states the table does not give that transition: no (%s)", a.reason);
    a = send_direct(golddr, PEER_MSG_CONFIRM, "gold-1-0005", 102, "active-passive",
                    "golddr-primary", "golddr-primary");
    ok(!a.yes && strstr(a.reason, "is not a transition that needs this site's confirmation"),
       "a transition that needs no confirmation: no (%s)", a.reason);
    a = send_direct(golddr, PEER_MSG_CONFIRM, "gold-1-0006", 103, "golddr-primary", NULL,
                    "gold-standby");
    ok(!a.yes && strstr(a.reason, "this site is golddr-primary, not gold-standby"),
       "a required state this site is not in: no (%s)", a.reason);
    struct peer_msg self = {.kind = PEER_MSG_CONFIRM, .seq = 500, .nrequired = 1};
    snprintf(self.id, sizeof(self.id), "x-1");
    snprintf(self.from_site, sizeof(self.from_site), "golddr");
    snprintf(self.sender_state, sizeof(self.sender_state), "golddr-primary");
    snprintf(self.required[0], sizeof(self.required[0]), "golddr-primary");
    struct peer_answer sa = {0};
    switchover_peer_message(golddr, &self, "DNS:x", &sa);
    ok(!sa.yes && strstr(sa.reason, "is not this site's peer"),
       "a message that says it is from this site: no (%s)", sa.reason);

    switchover_free(golddr);
    golddr = make(l, "golddr", dd, false);
    observe(golddr, "golddr", "golddr-primary", NULL);
    a = send_direct(golddr, PEER_MSG_CONFIRM, "gold-1-0007", 103, "golddr-primary", "gold-standby",
                    "golddr-primary");
    ok(!a.yes && strstr(a.reason, "replayed"), "after a restart a seq taken before is a replay");

    a = send_direct(golddr, PEER_MSG_TRANSITION, "gold-2-0001", 200, "golddr-primary",
                    "gold-standby", NULL);
    ok(a.yes && a.run[0] && strstr(a.reason, "accepted: run"),
       "transition gold-standby: golddr judges it and accepts, naming its run (%s)", a.reason);
    char run[48];
    snprintf(run, sizeof(run), "%s", a.run);
    run_until(l, idle, golddr, 1000);
    ok(switchover_state(golddr) == SW_GOLD_STANDBY,
       "golddr's (empty) plan took it to gold-standby");
    ok(metric_has(golddr, "drwatch_transition_requests_total{result=\"accepted\",source=\"peer\","
                          "to=\"gold-standby\"} 1"),
       "counted as a request from the peer");
    a = send_direct(golddr, PEER_MSG_TRANSITION, "gold-2-0001", 201, "golddr-primary",
                    "gold-standby", NULL);
    ok(a.yes && strcmp(a.run, run) == 0 && strstr(a.reason, "accepted before"),
       "the same message id again: the same answer, no second run (%s)", a.reason);
    a = send_direct(golddr, PEER_MSG_TRANSITION, "gold-2-0002", 202, "gold-standby",
                    "golddr-maintenance", NULL);
    ok(!a.yes && strstr(a.reason, "gold-standby cannot go to golddr-maintenance"),
       "a transition the table refuses: no with the reason (%s)", a.reason);
    ok(metric_has(golddr, "drwatch_peer_messages_total{answer=\"yes\",kind=\"transition\"} 2") &&
           metric_has(golddr, "drwatch_peer_messages_total{answer=\"no\",kind=\"transition\"} 1"),
       "transition messages counted by answer");
    switchover_free(golddr);
}

/* ---- tell_peer ---- */

/* Plans of one step, tell_peer, for active-passive -> golddr-primary on both sites (empty
 * plans for the rest), so that the site the peer asked runs its tell_peer step too. */
static void write_tell_plans(const char *dir)
{
    static char path[128];
    snprintf(path, sizeof(path), "%s/plans.lua", dir);
    FILE *f = fopen(path, "w");
    if (!f) return;
    struct buf b;
    buf_init(&b, 1 << 16);
    one_plan_text(&b, (1u << SW_GOLD) | (1u << SW_GOLDDR), "step { \"tell_peer\" }");
    fwrite(b.data, 1, b.len, f);
    buf_free(&b);
    fclose(f);
    plans_file = path;
}

static bool step_done(void *arg)
{
    (void)arg;
    return strstr(F.calls.data, "act:kong_restart") != NULL;
}

static void test_tell_peer(struct loop *l)
{
    for (size_t i = 0; i < 8; i++) mixed[i] = table[i];
    mixed[8] = &tell_peer_actuator;
    const char *gd = fresh_dir(), *dd = fresh_dir();
    struct switchover *gold = make(l, "gold", gd, true), *golddr = make(l, "golddr", dd, true);
    observe(gold, "gold", "active-passive", "active-passive");
    observe(golddr, "golddr", "active-passive", "active-passive");
    to_golddr.mode = to_gold.mode = WIRE_PASS;
    buf_reset(&F.calls);
    struct sw_reply out;
    ok(ask(gold, "golddr-primary", &out) == 0 && out.status == 202,
       "gold: active-passive -> golddr-primary (no confirmation needed)");
    run_until(l, idle, gold, 3000);
    const struct sw_run_record *rec = switchover_record(gold, out.run_id);
    const struct sw_step_record *tell = rec ? &rec->steps[rec->nsteps - 1] : NULL;
    ok(rec && rec->finished && rec->result == SW_RESULT_OK && tell &&
           strcmp(tell->action, "tell_peer") == 0 && tell->result == SW_RESULT_OK &&
           strstr(tell->detail, "the peer follows: accepted: run golddr-"),
       "gold's tell_peer step ends done with golddr's yes (%s)", tell ? tell->detail : "");
    const struct sw_run_start *dr = switchover_current(golddr, NULL, NULL);
    ok(dr && dr->to == SW_GOLDDR_PRIMARY && dr->source == SW_SOURCE_PEER,
       "golddr judged the transition and runs its plan (waiting at its promotion guard)");
    ok(metric_has(golddr, "drwatch_peer_messages_total{answer=\"yes\",kind=\"transition\"} 1") &&
           metric_has(gold, "drwatch_peer_requests_total{answer=\"yes\",kind=\"transition\"} 1"),
       "one transition message, answered yes, counted on both sides");
    switchover_free(gold);
    switchover_free(golddr);

    write_tell_plans(fresh_dir());
    const char *gold_dir = fresh_dir();
    gold = make(l, "gold", gold_dir, true);
    golddr = make(l, "golddr", fresh_dir(), true);
    observe(gold, "gold", "active-passive", "active-passive");
    observe(golddr, "golddr", "active-passive", "active-passive");
    ok(ask(gold, "golddr-primary", &out) == 0, "with one-step plans: gold tells golddr");
    run_until(l, idle, gold, 3000);
    run_until(l, idle, golddr, 3000);
    ok(switchover_state(gold) == SW_GOLDDR_PRIMARY && switchover_state(golddr) == SW_GOLDDR_PRIMARY,
       "both sites end golddr-primary");
    is_int(to_gold.posts, 0, "golddr's tell_peer step, in a run the peer asked for, sent nothing");
    ok(metric_has(golddr, "drwatch_action_steps_total{action=\"tell_peer\",result=\"already\"} 1"),
       "its check found nothing to tell");
    const char *took =
        "drwatch_transition_duration_seconds{from=\"active-passive\",result=\"ok\",to=\"golddr-"
        "primary\"} ";
    ok(metric_has(gold, took), "the finished run's duration, by from, to and result");
    switchover_free(gold);
    gold = make(l, "gold", gold_dir, true);
    ok(metric_has(gold, took), "and after a restart, from the journal");
    switchover_free(gold);
    switchover_free(golddr);
    plans_file = NULL;

    gd = fresh_dir();
    dd = fresh_dir();
    gold = make(l, "gold", gd, true);
    golddr = make(l, "golddr", dd, true);
    observe(gold, "gold", "active-passive", "golddr-maintenance");
    observe(golddr, "golddr", "golddr-maintenance", "active-passive");
    buf_reset(&F.calls);
    ok(ask(gold, "golddr-primary", &out) == 0, "gold fails over while golddr is in maintenance");
    run_until(l, step_done, NULL, 3000);
    run_until(l, idle, gold, 3000);
    rec = switchover_record(gold, out.run_id);
    tell = rec ? &rec->steps[rec->nsteps - 1] : NULL;
    ok(rec && rec->result == SW_RESULT_FAILED && tell && tell->result == SW_RESULT_FAILED &&
           strstr(tell->detail, "the peer refused: golddr-maintenance cannot go to "
                                "golddr-primary"),
       "golddr's no fails the step with its reason (%s)", tell ? tell->detail : "");
    switchover_free(gold);
    switchover_free(golddr);
}

int main(void)
{
    struct loop *l = loop_new();
    fake_init(l);
    to_golddr = (struct wire){.loop = l, .t = loop_timer_new(l, on_wire, &to_golddr)};
    to_gold = (struct wire){.loop = l, .t = loop_timer_new(l, on_wire, &to_gold)};
    test_confirmed(l);
    test_other_id(l);
    test_no_timeout_unreachable(l);
    test_receiver(l);
    test_tell_peer(l);
    loop_timer_free(to_golddr.t);
    loop_timer_free(to_gold.t);
    fake_fini();
    loop_free(l);
    for (size_t i = 0; i < ndirs; i++) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %.100s", swdirs[i]);
        if (system(cmd) != 0) diag("could not remove %s", swdirs[i]);
    }
    return done_testing();
}
