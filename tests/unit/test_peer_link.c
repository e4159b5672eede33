/* test_peer_link.c: the client side of the peer protocol (switchover/peer_link.h) with a fake
 * transport on a real loop, and its sequence numbers on disk (peer_seq.h): a seq is above the
 * last one and above the wall clock in microseconds, survives a reopen, and a damaged file
 * refuses everything sent before it was found; a seq taken is never taken again; a peer that
 * refuses connections is tried again with a new seq until it answers or the timeout ends; an
 * answer that is not one (another status, a 400, another seq) is never taken for a yes; without
 * a peer nothing is sent. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loop.h"
#include "peer_link.h"
#include "peer_seq.h"
#include "tap.h"

static char dir[] = "/tmp/drwatch-test-peerlink-XXXXXX";

static void test_seq(void)
{
    char err[256], path[128];
    uint64_t a, b, last = 0;
    struct sw_peer_seq *s = sw_peer_seq_open(dir, 1000.0);
    int rc = sw_peer_seq_next(s, 1000.0, &a, err, sizeof(err));
    ok(rc == 0 && a == 1000000000ull, "the first seq is the wall clock in microseconds (%llu)",
       (unsigned long long)a);
    rc = sw_peer_seq_next(s, 999.0, &b, err, sizeof(err));
    ok(rc == 0 && b == a + 1, "the clock going back does not take the seq back (%llu)",
       (unsigned long long)b);
    ok(sw_peer_seq_admit(s, SW_GOLD, 50, &last, err, sizeof(err)) == 0,
       "seq 50 from gold is taken");
    ok(sw_peer_seq_admit(s, SW_GOLD, 50, &last, err, sizeof(err)) == -EALREADY && last == 50,
       "50 again is a replay");
    ok(sw_peer_seq_admit(s, SW_GOLDDR, 50, &last, err, sizeof(err)) == 0,
       "each peer site has its own numbers");
    sw_peer_seq_free(s);
    s = sw_peer_seq_open(dir, 10.0);
    ok(sw_peer_seq_next(s, 10.0, &a, err, sizeof(err)) == 0 && a == b + 1,
       "after a reopen the next seq follows the last one sent");
    ok(sw_peer_seq_admit(s, SW_GOLD, 49, &last, err, sizeof(err)) == -EALREADY && last == 50,
       "and what was taken stays taken");
    sw_peer_seq_free(s);
    snprintf(path, sizeof(path), "%s/%s", dir, SW_PEER_SEQ_FILE);
    FILE *f = fopen(path, "w");
    if (f) fputs("{\"sent\": \"oops\"", f), fclose(f);
    s = sw_peer_seq_open(dir, 2000.0);
    ok(sw_peer_seq_admit(s, SW_GOLD, 1999999999ull, &last, err, sizeof(err)) == -EALREADY,
       "a damaged file: anything sent before it was opened is refused");
    ok(sw_peer_seq_admit(s, SW_GOLD, 2000000001ull, &last, err, sizeof(err)) == 0,
       "what comes after is taken");
    ok(sw_peer_seq_next(s, 2000.0, &a, err, sizeof(err)) == 0 && a >= 2000000000ull,
       "and this site's own numbers go on from the clock");
    sw_peer_seq_free(s);
    unlink(path);
}

/* ---- a fake transport ---- */

struct fake_peer {
    struct loop *loop;
    struct loop_timer *t;
    httpc_done_fn done;
    void *arg;
    int posts;
    int refuse_first;    /* refuse this many connections */
    int elsewhere_first; /* then answer this many 503s, as a follower replica does */
    long status;
    bool wrong_seq;
    char body[PEER_MSG_MAX + 1];
    char answer[1024];
} P;

static void on_fake(void *arg)
{
    (void)arg;
    struct httpc_result r = {.ok = 1, .status = P.status};
    if (P.posts <= P.refuse_first) {
        r = (struct httpc_result){.ok = 0, .reason = "connect", .error = "Connection refused"};
    } else if (P.posts <= P.refuse_first + P.elsewhere_first) {
        snprintf(P.answer, sizeof(P.answer),
                 "{\"format\":\"drwatch-peer-answer/1\",\"id\":\"x\",\"seq\":1,"
                 "\"answer\":\"no\",\"reason\":\"this golddr replica is not its site's "
                 "leader: ask again (the leader answers)\",\"state\":null}");
        r = (struct httpc_result){
            .ok = 1, .status = 503, .body = P.answer, .body_len = strlen(P.answer)};
    } else {
        struct peer_msg m;
        char err[200];
        if (peer_msg_parse(P.body, strlen(P.body), PEER_MSG_CONFIRM, &m, err, sizeof(err)) < 0)
            diag("the fake could not read the message: %s", err);
        snprintf(P.answer, sizeof(P.answer),
                 P.status == 200 || P.status == 400
                     ? "{\"format\":\"drwatch-peer-answer/1\",\"id\":\"%s\",\"seq\":%llu,"
                       "\"answer\":\"yes\",\"reason\":\"fine\",\"state\":\"golddr-primary\"}"
                     : "404 not found %s %llu",
                 m.id, (unsigned long long)(m.seq - P.wrong_seq));
        r.body = P.answer;
        r.body_len = strlen(P.answer);
    }
    httpc_done_fn done = P.done;
    P.done = NULL;
    done(P.arg, &r);
}

static void *fake_post(void *arg, const char *path, const char *body, size_t len,
                       int64_t timeout_ms, httpc_done_fn done, void *done_arg)
{
    (void)arg, (void)path, (void)timeout_ms;
    memcpy(P.body, body, len);
    P.body[len] = '\0';
    P.done = done;
    P.arg = done_arg;
    P.posts++;
    loop_timer_start(P.t, 0);
    return &P;
}

static void fake_cancel(void *arg, void *req)
{
    (void)arg, (void)req;
    loop_timer_stop(P.t);
    P.done = NULL;
}

static const struct sw_peer_transport fake = {fake_post, fake_cancel, NULL};

static struct sw_peer_outcome got;
static bool have;

static void on_outcome(void *arg, const struct sw_peer_outcome *o)
{
    (void)arg;
    got = *o;
    have = true;
}

static bool send_and_wait(struct loop *l, struct sw_peer_link *link, int max_ms)
{
    struct peer_msg m = {.kind = PEER_MSG_CONFIRM, .nrequired = 1};
    snprintf(m.id, sizeof(m.id), "gold-1-0a1b");
    snprintf(m.sender_state, sizeof(m.sender_state), "golddr-primary");
    snprintf(m.required[0], sizeof(m.required[0]), "golddr-primary");
    char err[256];
    have = false;
    P.posts = 0;
    if (!sw_peer_link_send(link, &m, 0, on_outcome, NULL, err, sizeof(err))) {
        diag("send: %s", err);
        return false;
    }
    for (int i = 0; i < max_ms / 10 && !have; i++) {
        struct loop_timer *t = loop_timer_new(l, (loop_fn)loop_stop, l);
        loop_timer_start(t, 10);
        loop_run(l);
        loop_timer_free(t);
    }
    return have;
}

static void test_link(struct loop *l)
{
    P = (struct fake_peer){.loop = l, .t = loop_timer_new(l, on_fake, NULL), .status = 200};
    struct sw_peer_link_env env = {
        .loop = l, .site = SW_GOLD, .data_dir = dir, .timeout_ms = 3500, .transport = &fake};
    struct sw_peer_link *link = sw_peer_link_new(&env);
    ok(send_and_wait(l, link, 500) && got.answer == SW_PEER_YES &&
           strcmp(got.id, "gold-1-0a1b") == 0 && strstr(P.body, "\"from_site\":\"gold\""),
       "a yes naming the message is a yes (%s); the link stamps this site's name", got.reason);
    P.refuse_first = 2;
    bool answered = send_and_wait(l, link, 3000);
    ok(answered && got.answer == SW_PEER_YES && P.posts == 3,
       "a peer refusing connections is tried again, once a second, until it answers (%d posts)",
       P.posts);
    P.refuse_first = 100;
    answered = send_and_wait(l, link, 5000);
    ok(answered && got.answer == SW_PEER_UNREACHABLE &&
           strstr(got.reason, "not reached within 3.5s: connect: Connection refused"),
       "one that never accepts is unreachable at the timeout (%s, %d posts)", got.reason, P.posts);
    P.refuse_first = 0;
    P.elsewhere_first = 2;
    answered = send_and_wait(l, link, 3000);
    ok(answered && got.answer == SW_PEER_YES && P.posts == 3,
       "a 503 from a follower replica is tried again on a new connection until the leader "
       "answers (%d posts)",
       P.posts);
    P.elsewhere_first = 100;
    answered = send_and_wait(l, link, 5000);
    ok(answered && got.answer == SW_PEER_UNREACHABLE &&
           strstr(got.reason, "503 from a replica that is not golddr's leader: this golddr"),
       "only followers answering is unreachable at the timeout (%s, %d posts)", got.reason,
       P.posts);
    P.elsewhere_first = 0;
    P.status = 404;
    ok(send_and_wait(l, link, 500) && got.answer == SW_PEER_BAD_ANSWER &&
           strstr(got.reason, "without the peer protocol"),
       "a 404 is no answer (%s)", got.reason);
    P.status = 400;
    ok(send_and_wait(l, link, 500) && got.answer == SW_PEER_BAD_ANSWER &&
           strstr(got.reason, "could not read the message"),
       "a 400 is no answer, whatever its body says (%s)", got.reason);
    P.status = 200;
    P.wrong_seq = true;
    ok(send_and_wait(l, link, 500) && got.answer == SW_PEER_BAD_ANSWER &&
           strstr(got.reason, "names message gold-1-0a1b (seq"),
       "a yes with the right id and another seq is no answer (%s)", got.reason);
    struct metric_set *m = mset_new();
    sw_peer_link_metrics(link, m);
    mset_unref(m);
    sw_peer_link_free(link);

    env.transport = NULL;
    link = sw_peer_link_new(&env);
    char err[256];
    struct peer_msg msg = {.kind = PEER_MSG_CONFIRM};
    ok(!sw_peer_link_configured(link) &&
           !sw_peer_link_send(link, &msg, 0, on_outcome, NULL, err, sizeof(err)) &&
           strstr(err, "no peer is configured"),
       "without a peer target nothing is sent (%s)", err);
    sw_peer_link_free(link);
    loop_timer_free(P.t);
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    test_seq();
    struct loop *l = loop_new();
    test_link(l);
    loop_free(l);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0) diag("could not remove %s", dir);
    return done_testing();
}
