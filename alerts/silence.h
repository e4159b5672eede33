/* silence.h: silences as Alertmanager has them: matchers, start, end, who made it and why.
 *
 * A silence mutes every alert its matchers all match while it is active (startsAt <= now <
 * endsAt); before that it is pending, after that expired. Expired silences are kept for
 * SILENCE_RETENTION (as Alertmanager's --data.retention, 120h) so that they can be looked up,
 * then forgotten. The set is saved as JSON (atomically: temp file, fsync, rename, fsync of the
 * directory) after every change, and read back at start.
 *
 * The JSON shapes are Alertmanager's API v2: a silence is {id, status: {state}, updatedAt,
 * matchers: [{name, value, isRegex, isEqual}], startsAt, endsAt, createdBy, comment}.
 *
 * Ownership: the set owns its silences. */
#ifndef DRWATCH_SILENCE_H
#define DRWATCH_SILENCE_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "matcher.h"

#define SILENCE_RETENTION (120.0 * 3600.0)
#define SILENCE_MAX       10000
#define SILENCE_FILE      "silences.json"

enum silence_state { SILENCE_PENDING, SILENCE_ACTIVE, SILENCE_EXPIRED };

struct silence {
    char id[40]; /* a UUID */
    struct am_matchers m;
    double starts_at, ends_at, updated_at;
    char *created_by, *comment;
};

struct silences;

/* An empty set that saves to path (copied). */
struct silences *silences_new(const char *path);
void silences_free(struct silences *s); /* NULL-safe */

/* Reads the saved set; a missing file is an empty set. Returns how many were read, or -1 with
 * err filled (the file is unreadable or not a silence list; nothing is read then). */
DRW_MUST_CHECK int silences_load(struct silences *s, char *err, size_t errlen);
DRW_MUST_CHECK int silences_save(const struct silences *s, char *err, size_t errlen);

enum silence_state silence_state_at(const struct silence *sil, double now);
const char *silence_state_name(enum silence_state st);

/* Whether an active silence matches canonical label text. */
bool silences_mutes(const struct silences *s, const char *labels, double now);
size_t silences_count(const struct silences *s, enum silence_state st, double now);

/* Creates a silence from an API body, or updates the one its "id" names (in place while it is
 * pending, or active with the same matchers and start; otherwise the old one expires and a new
 * one is made, as Alertmanager does). The id is written to id_out (40 bytes). Returns 0;
 * -EINVAL with err saying what is wrong with the body; -ENOENT when the id is unknown;
 * -ENOSPC at SILENCE_MAX. */
DRW_MUST_CHECK int silences_post(struct silences *s, const char *body, size_t len, double now,
                                 char *id_out, char *err, size_t errlen);
/* Expires a silence now. Returns 0, 1 when it had expired already, or -ENOENT. */
DRW_MUST_CHECK int silences_expire(struct silences *s, const char *id, double now);
/* Forgets silences expired for longer than SILENCE_RETENTION; returns how many. */
size_t silences_gc(struct silences *s, double now);
/* When the next silence changes state after now (starts or ends), or INFINITY. */
double silences_next_change(const struct silences *s, double now);

/* The set as the API's JSON list (active first, then pending, then expired). */
void silences_list_json(const struct silences *s, double now, struct buf *out);

#endif
