/* fuzz_peer_msg.c: arbitrary bytes through the peer protocol's parsers (site/peer_msg.h): the
 * first byte picks a confirm message, a transition message or an answer, the rest is the body.
 * Invariants: what parses has every field in its alphabet and cap (an id that passes
 * peer_msg_id_ok, a seq from 1 to 2^53-1, 1 to 8 required states for a confirm, a target for a
 * transition; a yes names an id), and encodes again into a body of at most PEER_MSG_MAX bytes
 * that parses to the same fields (what drwatch reads, it can say back unchanged). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "caps.h"
#include "peer_msg.h"

static void check_msg(const struct peer_msg *m, enum peer_msg_kind kind)
{
    if (!peer_msg_id_ok(m->id) || m->seq < 1 || m->seq > PEER_MSG_SEQ_MAX) abort();
    if (kind == PEER_MSG_CONFIRM && (m->nrequired < 1 || m->nrequired > PEER_MSG_MAX_STATES))
        abort();
    if (kind == PEER_MSG_TRANSITION && !m->to[0]) abort();
    struct buf b;
    buf_init(&b, 4 * PEER_MSG_MAX);
    struct peer_msg again;
    char err[200];
    if (peer_msg_encode(m, &b) != 0 || b.len > PEER_MSG_MAX ||
        peer_msg_parse(b.data, b.len, kind, &again, err, sizeof(err)) != 0)
        abort();
    if (strcmp(again.id, m->id) || again.seq != m->seq || strcmp(again.from_site, m->from_site) ||
        strcmp(again.sender_state, m->sender_state) || strcmp(again.to, m->to) ||
        strcmp(again.reason, m->reason) || again.nrequired != m->nrequired || again.sent != m->sent)
        abort();
    for (size_t i = 0; i < m->nrequired; i++)
        if (strcmp(again.required[i], m->required[i])) abort();
    buf_free(&b);
}

static void check_answer(const struct peer_answer *a)
{
    if (a->yes && !peer_msg_id_ok(a->id)) abort();
    if (a->id[0] && !peer_msg_id_ok(a->id)) abort();
    struct buf b;
    buf_init(&b, 4 * PEER_MSG_MAX);
    struct peer_answer again;
    char err[200];
    if (peer_answer_encode(a, &b) != 0 || b.len > PEER_MSG_MAX ||
        peer_answer_parse(b.data, b.len, &again, err, sizeof(err)) != 0)
        abort();
    if (again.yes != a->yes || strcmp(again.id, a->id) || again.seq != a->seq ||
        strcmp(again.site, a->site) || strcmp(again.reason, a->reason) ||
        strcmp(again.state, a->state) || strcmp(again.run, a->run))
        abort();
    buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    char err[200];
    unsigned pick = data[0] % 3;
    if (pick < 2) {
        struct peer_msg m;
        enum peer_msg_kind kind = pick == 0 ? PEER_MSG_CONFIRM : PEER_MSG_TRANSITION;
        if (peer_msg_parse(body, len, kind, &m, err, sizeof(err)) == 0)
            check_msg(&m, kind);
        else if (m.id[0] && !peer_msg_id_ok(m.id))
            abort();
    } else {
        struct peer_answer a;
        if (peer_answer_parse(body, len, &a, err, sizeof(err)) == 0)
            check_answer(&a);
        else if (a.yes)
            abort();
    }
    return 0;
}
