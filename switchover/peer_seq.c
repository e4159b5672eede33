/* peer_seq.c: the peer protocol's sequence numbers on disk (see peer_seq.h). The file is a
 * small JSON object rewritten whole through durable_replace at every change: messages are a
 * few per transition, so an fsync each costs nothing that matters, and a replacement never
 * leaves half a file. Uses: exporter/durable, fileio, jansson. */
#include "peer_seq.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "durable.h"
#include "fileio.h"
#include "log.h"
#include "peer_msg.h"
#include "xalloc.h"

#define SEQ_FILE_MAX 4096

struct sw_peer_seq {
    char *path;
    uint64_t sent;
    uint64_t seen[SW_SITE_COUNT];
};

static uint64_t micros(double now)
{
    if (!(now > 0) || !isfinite(now)) return 0;
    double us = floor(now * 1e6);
    return us >= (double)PEER_MSG_SEQ_MAX ? PEER_MSG_SEQ_MAX : (uint64_t)us;
}

static int number(json_t *v, uint64_t *out)
{
    if (!v) return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        (uint64_t)json_integer_value(v) > PEER_MSG_SEQ_MAX)
        return -1;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

/* Reads text into s; -1 when it is not the file's shape. */
static int parse(struct sw_peer_seq *s, const char *text, size_t len)
{
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *seen = json_object_get(o, "seen");
    int rc = json_is_object(o) && (!seen || json_is_object(seen)) ? 0 : -1;
    if (rc == 0) rc = number(json_object_get(o, "sent"), &s->sent);
    for (int site = 0; rc == 0 && site < SW_SITE_COUNT; site++)
        rc = number(json_object_get(seen, sw_site_name((enum sw_site)site)), &s->seen[site]);
    json_decref(o);
    return rc;
}

struct sw_peer_seq *sw_peer_seq_open(const char *data_dir, double now)
{
    struct sw_peer_seq *s = xcalloc(1, sizeof(*s));
    s->path = xasprintf("%s/%s", data_dir, SW_PEER_SEQ_FILE);
    char *text = NULL;
    size_t len = 0;
    int rc = file_read_all(s->path, SEQ_FILE_MAX, &text, &len);
    if (rc == -ENOENT) return s;
    if (rc < 0 || parse(s, text, len) < 0) {
        char why[64];
        log_error("switchover",
                  "%s cannot be read (%s): messages from the peer sent before now are refused "
                  "as replays; the file is rewritten at the next message",
                  s->path,
                  rc < 0 ? file_read_error(rc, SEQ_FILE_MAX, why, sizeof(why)) : "damaged");
        for (int site = 0; site < SW_SITE_COUNT; site++)
            if (s->seen[site] < micros(now)) s->seen[site] = micros(now);
    }
    free(text);
    return s;
}

void sw_peer_seq_free(struct sw_peer_seq *s)
{
    if (!s) return;
    free(s->path);
    free(s);
}

/* Writes sent and seen as given (not yet s's). */
static int save(const struct sw_peer_seq *s, uint64_t sent, const uint64_t *seen, char *err,
                size_t errlen)
{
    json_t *by_site = json_object();
    for (int site = 0; site < SW_SITE_COUNT; site++)
        if (seen[site])
            json_object_set_new(by_site, sw_site_name((enum sw_site)site),
                                json_integer((json_int_t)seen[site]));
    json_t *o = json_pack("{s:I, s:o}", "sent", (json_int_t)sent, "seen", by_site);
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    if (!text) {
        snprintf(err, errlen, "%s: cannot encode the sequence numbers", s->path);
        return -ENOMEM;
    }
    char why[200];
    int rc = durable_replace(s->path, text, strlen(text), why, sizeof(why));
    free(text);
    if (rc < 0) snprintf(err, errlen, "cannot record the sequence number: %s", why);
    return rc;
}

int sw_peer_seq_next(struct sw_peer_seq *s, double now, uint64_t *out, char *err, size_t errlen)
{
    uint64_t next = s->sent + 1, floor_us = micros(now);
    if (next < floor_us) next = floor_us;
    if (next > PEER_MSG_SEQ_MAX) {
        snprintf(err, errlen, "%s: the sequence numbers are used up", s->path);
        return -ERANGE;
    }
    int rc = save(s, next, s->seen, err, errlen);
    if (rc < 0) return rc;
    s->sent = next;
    *out = next;
    return 0;
}

int sw_peer_seq_admit(struct sw_peer_seq *s, enum sw_site from, uint64_t seq, uint64_t *last,
                      char *err, size_t errlen)
{
    if ((unsigned)from >= SW_SITE_COUNT) {
        snprintf(err, errlen, "unknown site");
        return -EINVAL;
    }
    if (last) *last = s->seen[from];
    if (seq <= s->seen[from]) return -EALREADY;
    uint64_t seen[SW_SITE_COUNT];
    for (int site = 0; site < SW_SITE_COUNT; site++) seen[site] = s->seen[site];
    seen[from] = seq;
    int rc = save(s, s->sent, seen, err, errlen);
    if (rc < 0) return rc;
    s->seen[from] = seq;
    return 0;
}

uint64_t sw_peer_seq_sent(const struct sw_peer_seq *s)
{
    return s->sent;
}

uint64_t sw_peer_seq_seen(const struct sw_peer_seq *s, enum sw_site from)
{
    return (unsigned)from < SW_SITE_COUNT ? s->seen[from] : 0;
}
