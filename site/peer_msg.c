/* peer_msg.c: the peer protocol's messages and answers (see peer_msg.h), with jansson.
 *
 * Parsing is strict about what the protocol depends on (the format, the kind, the id, the
 * sequence number, the names of sites and states) and lenient about what it does not (unknown
 * keys are ignored). Every string is copied into a fixed field only after its length and
 * alphabet are checked: a field that does not fit refuses the message rather than cutting it,
 * since a cut id or state would name something else. Encoding goes through the same checks, so
 * that this drwatch never sends what its peer would refuse. */
#include "peer_msg.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "strutil.h"

static const char *const kind_names[PEER_MSG_KIND_COUNT] = {"confirm", "transition"};
static const char *const kind_paths[PEER_MSG_KIND_COUNT] = {PEER_CONFIRM_PATH,
                                                            PEER_TRANSITION_PATH};

const char *peer_msg_kind_name(enum peer_msg_kind k)
{
    return (unsigned)k < PEER_MSG_KIND_COUNT ? kind_names[k] : "unknown";
}

const char *peer_msg_path(enum peer_msg_kind k)
{
    return (unsigned)k < PEER_MSG_KIND_COUNT ? kind_paths[k] : "";
}

int peer_msg_kind_of_path(const char *path)
{
    for (int k = 0; k < PEER_MSG_KIND_COUNT; k++)
        if (strcmp(path, kind_paths[k]) == 0) return k;
    return -1;
}

/* ---- the alphabets ---- */

bool peer_msg_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 47) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && c != '.' && c != '_' && c != ':' && c != '-') return false;
    }
    return true;
}

/* A site or state name: lower-case letters and '-', 1 .. max bytes. */
static bool name_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '-')) return false;
    return true;
}

/* ---- reading ---- */

struct reader {
    json_t *o;
    char *err;
    size_t errlen;
};

__attribute__((format(printf, 2, 3))) static int fail(struct reader *r, const char *fmt, ...);
static int fail(struct reader *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, r->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* A string member into out[outlen]: required or not, checked by ok (NULL: any UTF-8 text,
 * control characters made '?'). A missing optional member leaves "". */
static int get_text(struct reader *r, const char *key, bool required, char *out, size_t outlen,
                    bool (*ok)(const char *s, size_t max))
{
    out[0] = '\0';
    json_t *v = json_object_get(r->o, key);
    if (!v || json_is_null(v)) return required ? fail(r, "\"%s\" is missing", key) : 0;
    const char *s = json_string_value(v);
    if (!s) return fail(r, "\"%s\" is not a string", key);
    if (strlen(s) != json_string_length(v)) return fail(r, "\"%s\" holds a NUL", key);
    if (!s[0] && !required) return 0;
    if (strlen(s) >= outlen) return fail(r, "\"%s\" is longer than %zu bytes", key, outlen - 1);
    if (ok && !ok(s, outlen - 1)) return fail(r, "\"%s\" is not a valid name: %.40s", key, s);
    if (ok)
        snprintf(out, outlen, "%s", s);
    else
        str_utf8_clean(out, outlen, s);
    return 0;
}

static bool id_ok(const char *s, size_t max)
{
    (void)max;
    return peer_msg_id_ok(s);
}

static int get_seq(struct reader *r, uint64_t *out)
{
    json_t *v = json_object_get(r->o, "seq");
    if (!json_is_integer(v)) return fail(r, "\"seq\" is missing or not an integer");
    json_int_t n = json_integer_value(v);
    if (n < 1 || (uint64_t)n > PEER_MSG_SEQ_MAX)
        return fail(r, "\"seq\" is out of range (1 to 2^53-1)");
    *out = (uint64_t)n;
    return 0;
}

static int get_format(struct reader *r, const char *want)
{
    const char *f = json_string_value(json_object_get(r->o, "format"));
    if (!f || strcmp(f, want) != 0) return fail(r, "\"format\" is not \"%s\"", want);
    return 0;
}

static int open_object(struct reader *r, const char *body, size_t len)
{
    json_error_t je;
    if (len > PEER_MSG_MAX) return fail(r, "larger than %d bytes", PEER_MSG_MAX);
    r->o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!r->o) return fail(r, "not JSON: %s (at %d)", je.text, je.position);
    if (!json_is_object(r->o)) return fail(r, "not a JSON object");
    return 0;
}

static int get_required(struct reader *r, struct peer_msg *m)
{
    json_t *a = json_object_get(r->o, "required_states");
    if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > PEER_MSG_MAX_STATES)
        return fail(r, "\"required_states\" must be a list of 1 to %d states", PEER_MSG_MAX_STATES);
    for (size_t i = 0; i < json_array_size(a); i++) {
        const char *s = json_string_value(json_array_get(a, i));
        if (!s || !name_ok(s, sizeof(m->required[0]) - 1))
            return fail(r, "\"required_states\"[%zu] is not a state name", i);
        snprintf(m->required[m->nrequired++], sizeof(m->required[0]), "%s", s);
    }
    return 0;
}

static int read_msg(struct reader *r, enum peer_msg_kind kind, struct peer_msg *m)
{
    if (get_text(r, "id", true, m->id, sizeof(m->id), id_ok) < 0) return -1;
    if (get_format(r, PEER_MSG_FORMAT) < 0) return -1;
    const char *k = json_string_value(json_object_get(r->o, "kind"));
    if (!k || strcmp(k, kind_names[kind]) != 0)
        return fail(r, "\"kind\" is not \"%s\" (the path's)", kind_names[kind]);
    json_t *sent = json_object_get(r->o, "sent");
    if (sent && (!json_is_number(sent) || !isfinite(json_number_value(sent)) ||
                 json_number_value(sent) < 0))
        return fail(r, "\"sent\" is not a time");
    m->sent = sent ? json_number_value(sent) : 0;
    if (get_seq(r, &m->seq) < 0 ||
        get_text(r, "from_site", true, m->from_site, sizeof(m->from_site), name_ok) < 0 ||
        get_text(r, "sender_state", true, m->sender_state, sizeof(m->sender_state), name_ok) < 0 ||
        get_text(r, "to", kind == PEER_MSG_TRANSITION, m->to, sizeof(m->to), name_ok) < 0 ||
        get_text(r, "reason", false, m->reason, sizeof(m->reason), NULL) < 0)
        return -1;
    return kind == PEER_MSG_CONFIRM ? get_required(r, m) : 0;
}

int peer_msg_parse(const char *body, size_t len, enum peer_msg_kind kind, struct peer_msg *out,
                   char *err, size_t errlen)
{
    struct reader r = {.err = err, .errlen = errlen};
    memset(out, 0, sizeof(*out));
    out->kind = kind;
    if ((unsigned)kind >= PEER_MSG_KIND_COUNT) return fail(&r, "unknown kind");
    int rc = open_object(&r, body, len);
    if (rc == 0) rc = read_msg(&r, kind, out);
    if (rc < 0 && !peer_msg_id_ok(out->id)) out->id[0] = '\0';
    json_decref(r.o);
    return rc;
}

/* The answer's id, seq and verdict: the id may be "" (a message the peer could not read). */
static int read_answer_head(struct reader *r, struct peer_answer *a)
{
    const char *v = json_string_value(json_object_get(r->o, "answer"));
    json_t *id = json_object_get(r->o, "id"), *seq = json_object_get(r->o, "seq");
    if (!v || (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0))
        return fail(r, "\"answer\" is not \"yes\" or \"no\"");
    a->yes = strcmp(v, "yes") == 0;
    const char *s = json_string_value(id);
    if (!s || (s[0] && !peer_msg_id_ok(s)) || (a->yes && !s[0]))
        return fail(r, "\"id\" is missing or not an id");
    snprintf(a->id, sizeof(a->id), "%s", s);
    if (seq && !json_is_integer(seq)) return fail(r, "\"seq\" is not an integer");
    json_int_t n = seq ? json_integer_value(seq) : 0;
    a->seq = n > 0 && (uint64_t)n <= PEER_MSG_SEQ_MAX ? (uint64_t)n : 0;
    return 0;
}

int peer_answer_parse(const char *body, size_t len, struct peer_answer *out, char *err,
                      size_t errlen)
{
    struct reader r = {.err = err, .errlen = errlen};
    memset(out, 0, sizeof(*out));
    int rc = open_object(&r, body, len);
    if (rc == 0) rc = get_format(&r, PEER_ANSWER_FORMAT);
    if (rc == 0) rc = read_answer_head(&r, out);
    if (rc == 0 && (get_text(&r, "site", false, out->site, sizeof(out->site), name_ok) < 0 ||
                    get_text(&r, "reason", false, out->reason, sizeof(out->reason), NULL) < 0 ||
                    get_text(&r, "state", false, out->state, sizeof(out->state), name_ok) < 0 ||
                    get_text(&r, "run", false, out->run, sizeof(out->run), id_ok) < 0))
        rc = -1;
    if (rc < 0) out->yes = false;
    json_decref(r.o);
    return rc;
}

/* ---- writing ---- */

static int dump(json_t *o, struct buf *out)
{
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!text) return -EINVAL;
    int rc = strlen(text) > PEER_MSG_MAX ? -E2BIG : buf_puts(out, text);
    free(text);
    return rc;
}

/* Sets o[key] = v (taken); false when v is NULL (jansson refused the text: not UTF-8). */
static bool set(json_t *o, const char *key, json_t *v)
{
    return v && json_object_set_new(o, key, v) == 0;
}

int peer_msg_encode(const struct peer_msg *m, struct buf *out)
{
    bool confirm = m->kind == PEER_MSG_CONFIRM;
    if ((unsigned)m->kind >= PEER_MSG_KIND_COUNT || !peer_msg_id_ok(m->id) || m->seq < 1 ||
        m->seq > PEER_MSG_SEQ_MAX || !name_ok(m->from_site, sizeof(m->from_site) - 1) ||
        !name_ok(m->sender_state, sizeof(m->sender_state) - 1) ||
        (m->to[0] || !confirm ? !name_ok(m->to, sizeof(m->to) - 1) : false) ||
        strlen(m->reason) >= sizeof(m->reason) ||
        (confirm && (m->nrequired < 1 || m->nrequired > PEER_MSG_MAX_STATES)))
        return -EINVAL;
    json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s}", "format", PEER_MSG_FORMAT, "kind",
                          kind_names[m->kind], "id", m->id, "seq", (json_int_t)m->seq, "from_site",
                          m->from_site, "sender_state", m->sender_state);
    if (!o) return -EINVAL;
    if (confirm) {
        json_t *req = json_array();
        for (size_t i = 0; i < m->nrequired; i++) {
            if (!name_ok(m->required[i], sizeof(m->required[i]) - 1)) {
                json_decref(req);
                json_decref(o);
                return -EINVAL;
            }
            json_array_append_new(req, json_string(m->required[i]));
        }
        json_object_set_new(o, "required_states", req);
    }
    bool good = (!m->to[0] || set(o, "to", json_string(m->to))) &&
                set(o, "reason", json_string(m->reason)) &&
                (!(m->sent > 0 && isfinite(m->sent)) || set(o, "sent", json_real(m->sent)));
    if (!good) {
        json_decref(o);
        return -EINVAL;
    }
    return dump(o, out);
}

int peer_answer_encode(const struct peer_answer *a, struct buf *out)
{
    if ((a->id[0] && !peer_msg_id_ok(a->id)) || (a->yes && !a->id[0]) ||
        a->seq > PEER_MSG_SEQ_MAX || (a->site[0] && !name_ok(a->site, sizeof(a->site) - 1)) ||
        (a->state[0] && !name_ok(a->state, sizeof(a->state) - 1)) ||
        (a->run[0] && !peer_msg_id_ok(a->run)) || strlen(a->reason) >= sizeof(a->reason))
        return -EINVAL;
    json_t *o = json_pack("{s:s, s:s, s:I}", "format", PEER_ANSWER_FORMAT, "id", a->id, "seq",
                          (json_int_t)a->seq);
    if (!o) return -EINVAL;
    bool good = (!a->site[0] || set(o, "site", json_string(a->site))) &&
                set(o, "answer", json_string(a->yes ? "yes" : "no")) &&
                set(o, "reason", json_string(a->reason)) &&
                set(o, "state", a->state[0] ? json_string(a->state) : json_null()) &&
                (!a->run[0] || set(o, "run", json_string(a->run)));
    if (!good) {
        json_decref(o);
        return -EINVAL;
    }
    return dump(o, out);
}
