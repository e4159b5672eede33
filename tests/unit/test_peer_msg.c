/* test_peer_msg.c: the peer protocol's messages and answers (site/peer_msg.h): what this
 * drwatch encodes is what its peer parses back, field for field; every malformed shape is
 * refused with a reason (and the id kept when it could be read, for the answer); nothing that
 * does not fit a field is cut to fit; an answer's id may be empty only for a "no". */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "caps.h"
#include "peer_msg.h"
#include "tap.h"

static struct peer_msg confirm_msg(void)
{
    struct peer_msg m = {
        .kind = PEER_MSG_CONFIRM, .seq = 1712345678123456ull, .sent = 1712345678.5};
    snprintf(m.id, sizeof(m.id), "gold-1712345678-0a1b");
    snprintf(m.from_site, sizeof(m.from_site), "gold");
    snprintf(m.sender_state, sizeof(m.sender_state), "golddr-primary");
    snprintf(m.to, sizeof(m.to), "gold-standby");
    snprintf(m.reason, sizeof(m.reason), "back to gold, caf\xc3\xa9 \"quoted\"");
    snprintf(m.required[0], sizeof(m.required[0]), "golddr-primary");
    m.nrequired = 1;
    return m;
}

static void test_roundtrip(void)
{
    struct peer_msg m = confirm_msg(), back;
    struct buf b;
    char err[200];
    buf_init(&b, CAP_KIB * 8);
    ok(peer_msg_encode(&m, &b) == 0, "a confirm message encodes: %s", b.data);
    ok(peer_msg_parse(b.data, b.len, PEER_MSG_CONFIRM, &back, err, sizeof(err)) == 0,
       "and parses back (%s)", err);
    ok(strcmp(back.id, m.id) == 0 && back.seq == m.seq && strcmp(back.from_site, "gold") == 0 &&
           strcmp(back.sender_state, "golddr-primary") == 0 &&
           strcmp(back.to, "gold-standby") == 0 && strcmp(back.reason, m.reason) == 0 &&
           back.nrequired == 1 && strcmp(back.required[0], "golddr-primary") == 0 &&
           back.sent == m.sent,
       "field for field");
    ok(peer_msg_parse(b.data, b.len, PEER_MSG_TRANSITION, &back, err, sizeof(err)) < 0 &&
           strstr(err, "\"kind\"") && strcmp(back.id, m.id) == 0,
       "a confirm sent to the transition path is refused (%s), its id kept for the answer", err);

    buf_reset(&b);
    struct peer_msg t = {.kind = PEER_MSG_TRANSITION, .seq = 7};
    snprintf(t.id, sizeof(t.id), "gold-1-ffff");
    snprintf(t.from_site, sizeof(t.from_site), "gold");
    snprintf(t.sender_state, sizeof(t.sender_state), "active-passive");
    snprintf(t.to, sizeof(t.to), "active-passive-force");
    ok(peer_msg_encode(&t, &b) == 0 &&
           peer_msg_parse(b.data, b.len, PEER_MSG_TRANSITION, &back, err, sizeof(err)) == 0 &&
           strcmp(back.to, "active-passive-force") == 0 && back.nrequired == 0 &&
           back.reason[0] == '\0' && back.sent == 0,
       "a transition message (the break-glass target, no reason) too: %s", b.data);
    buf_reset(&b);
    t.to[0] = '\0';
    is_int(peer_msg_encode(&t, &b), -EINVAL, "a transition without a target is not sent");
    m.nrequired = 0;
    is_int(peer_msg_encode(&m, &b), -EINVAL, "nor a confirm without required states");
    m = confirm_msg();
    snprintf(m.id, sizeof(m.id), "bad id");
    is_int(peer_msg_encode(&m, &b), -EINVAL, "nor an id with a space");
    m = confirm_msg();
    snprintf(m.reason, sizeof(m.reason), "\xff\xfe");
    is_int(peer_msg_encode(&m, &b), -EINVAL, "nor a reason that is not UTF-8");
    buf_free(&b);
}

struct bad {
    const char *name, *body;
    const char *want; /* in the error */
};

#define GOOD_TAIL                                                                               \
    "\"from_site\":\"gold\",\"sender_state\":\"golddr-primary\",\"required_states\":[\"golddr-" \
    "primary\"]}"
#define HEAD(seq) \
    "{\"format\":\"drwatch-peer-msg/1\",\"kind\":\"confirm\",\"id\":\"a-1\",\"seq\":" seq ","

static const struct bad bads[] = {
    {"not JSON", "{", "not JSON"},
    {"not an object", "[1]", "not a JSON object"},
    {"no id", "{\"format\":\"drwatch-peer-msg/1\"}", "\"id\" is missing"},
    {"an id with a slash", "{\"id\":\"a/b\"}", "\"id\" is not a valid name"},
    {"an id too long", "{\"id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}", "longer"},
    {"another format", "{\"id\":\"a-1\",\"format\":\"drwatch-peer-msg/2\"}", "\"format\""},
    {"seq 0", HEAD("0") GOOD_TAIL, "\"seq\" is out of range"},
    {"seq negative", HEAD("-5") GOOD_TAIL, "\"seq\" is out of range"},
    {"seq 2^53", HEAD("9007199254740992") GOOD_TAIL, "\"seq\" is out of range"},
    {"seq a real", HEAD("1.5") GOOD_TAIL, "not an integer"},
    {"seq a string", HEAD("\"1\"") GOOD_TAIL, "not an integer"},
    {"no from_site", HEAD("1") "\"sender_state\":\"x\",\"required_states\":[\"x\"]}",
     "\"from_site\" is missing"},
    {"an upper-case state", HEAD("1") "\"from_site\":\"gold\",\"sender_state\":\"GOLD\"}",
     "\"sender_state\" is not a valid name"},
    {"no required states", HEAD("1") "\"from_site\":\"gold\",\"sender_state\":\"x\"}",
     "\"required_states\""},
    {"nine required states",
     HEAD("1") "\"from_site\":\"gold\",\"sender_state\":\"x\",\"required_states\":[\"a\",\"a\","
               "\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\"]}",
     "\"required_states\""},
    {"a required state not a name",
     HEAD("1") "\"from_site\":\"gold\",\"sender_state\":\"x\",\"required_states\":[3]}",
     "\"required_states\"[0]"},
    {"a duplicate key", "{\"id\":\"a\",\"id\":\"b\"}", "not JSON"},
    {"a NUL in the reason", HEAD("1") "\"reason\":\"a\\u0000b\"," GOOD_TAIL,
     "\\u0000 is not allowed"},
    {"a sent time that is not one", HEAD("1") "\"sent\":\"now\"," GOOD_TAIL, "\"sent\""},
};

static void test_refused(void)
{
    struct peer_msg m;
    char err[200];
    for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
        err[0] = '\0';
        int rc = peer_msg_parse(bads[i].body, strlen(bads[i].body), PEER_MSG_CONFIRM, &m, err,
                                sizeof(err));
        ok(rc < 0 && strstr(err, bads[i].want), "%s: refused (%s)", bads[i].name, err);
    }
    const char *good = HEAD("1") "\"reason\":\"tab\\there, bell\\u0007\"," GOOD_TAIL;
    ok(peer_msg_parse(good, strlen(good), PEER_MSG_CONFIRM, &m, err, sizeof(err)) == 0 &&
           strcmp(m.reason, "tab\there, bell?") == 0,
       "control characters in a reason become '?' (%s)", m.reason);
    char big[PEER_MSG_MAX + 64];
    snprintf(big, sizeof(big), HEAD("1") "\"reason\":\"%0*d\"," GOOD_TAIL, 300, 0);
    ok(peer_msg_parse(big, strlen(big), PEER_MSG_CONFIRM, &m, err, sizeof(err)) < 0 &&
           strstr(err, "\"reason\" is longer than 255"),
       "a reason over 255 bytes is refused, not cut (%s)", err);
    memset(big, ' ', sizeof(big));
    ok(peer_msg_parse(big, sizeof(big), PEER_MSG_CONFIRM, &m, err, sizeof(err)) < 0 &&
           strstr(err, "larger than"),
       "a body over PEER_MSG_MAX is refused unread (%s)", err);
    const char *extra = HEAD("2") "\"future\":{\"x\":[1,2]}," GOOD_TAIL;
    ok(peer_msg_parse(extra, strlen(extra), PEER_MSG_CONFIRM, &m, err, sizeof(err)) == 0 &&
           m.seq == 2,
       "unknown keys are ignored, so the protocol can grow");
}

static void test_answers(void)
{
    struct peer_answer a = {.yes = true, .seq = 42}, back;
    struct buf b;
    char err[200];
    buf_init(&b, CAP_KIB * 8);
    snprintf(a.id, sizeof(a.id), "gold-1-0a1b");
    snprintf(a.site, sizeof(a.site), "golddr");
    snprintf(a.reason, sizeof(a.reason), "this site is golddr-primary with nothing pending");
    snprintf(a.state, sizeof(a.state), "golddr-primary");
    snprintf(a.run, sizeof(a.run), "golddr-2-77aa");
    ok(peer_answer_encode(&a, &b) == 0 &&
           peer_answer_parse(b.data, b.len, &back, err, sizeof(err)) == 0 && back.yes &&
           strcmp(back.id, a.id) == 0 && back.seq == 42 && strcmp(back.site, "golddr") == 0 &&
           strcmp(back.reason, a.reason) == 0 && strcmp(back.state, a.state) == 0 &&
           strcmp(back.run, a.run) == 0,
       "an answer encodes and parses back: %s", b.data);
    buf_reset(&b);
    struct peer_answer no = {.yes = false};
    snprintf(no.reason, sizeof(no.reason), "the message could not be read: not JSON");
    ok(peer_answer_encode(&no, &b) == 0 && strstr(b.data, "\"state\":null") &&
           peer_answer_parse(b.data, b.len, &back, err, sizeof(err)) == 0 && !back.yes &&
           back.id[0] == '\0' && back.state[0] == '\0',
       "a no to a message that could not be read names no id and no state: %s", b.data);
    buf_reset(&b);
    no.yes = true;
    is_int(peer_answer_encode(&no, &b), -EINVAL, "a yes without an id is never sent");
    const char *yes_no_id = "{\"format\":\"drwatch-peer-answer/1\",\"id\":\"\",\"answer\":\"yes\"}";
    ok(peer_answer_parse(yes_no_id, strlen(yes_no_id), &back, err, sizeof(err)) < 0 && !back.yes,
       "nor taken (%s)", err);
    const char *maybe = "{\"format\":\"drwatch-peer-answer/1\",\"id\":\"a\",\"answer\":\"maybe\"}";
    ok(peer_answer_parse(maybe, strlen(maybe), &back, err, sizeof(err)) < 0 && !back.yes,
       "an answer other than yes or no is refused (%s)", err);
    const char *old = "{\"event\":\"yes_happy_to_proceed\",\"item\":{}}";
    ok(peer_answer_parse(old, strlen(old), &back, err, sizeof(err)) < 0 && !back.yes,
       "the old agent's yes_happy_to_proceed is not an answer (%s)", err);
    const char *bad_run =
        "{\"format\":\"drwatch-peer-answer/1\",\"id\":\"a\",\"answer\":\"yes\",\"run\":\"x y\"}";
    ok(peer_answer_parse(bad_run, strlen(bad_run), &back, err, sizeof(err)) < 0 && !back.yes,
       "a yes with a malformed field is no yes (%s)", err);
    buf_free(&b);
}

static void test_paths(void)
{
    ok(peer_msg_kind_of_path("/peer/v1/confirm") == PEER_MSG_CONFIRM &&
           peer_msg_kind_of_path("/peer/v1/transition") == PEER_MSG_TRANSITION &&
           peer_msg_kind_of_path("/peer/v1/view") == -1 &&
           strcmp(peer_msg_path(PEER_MSG_CONFIRM), PEER_CONFIRM_PATH) == 0 &&
           strcmp(peer_msg_kind_name(PEER_MSG_TRANSITION), "transition") == 0,
       "paths and kinds");
    ok(peer_msg_id_ok("gold-1712345678-0a1b") && peer_msg_id_ok("a.b_c:d") && !peer_msg_id_ok("") &&
           !peer_msg_id_ok("a b") && !peer_msg_id_ok("caf\xc3\xa9"),
       "ids: [A-Za-z0-9._:-], 1 to 47 bytes");
}

int main(void)
{
    test_roundtrip();
    test_refused();
    test_answers();
    test_paths();
    return done_testing();
}
