/* matcher.h: Alertmanager's label matchers, for routes, inhibition rules and silences.
 *
 * A matcher is label op value with op =, !=, =~ or !~; a regex is POSIX extended and anchored
 * at both ends (as Alertmanager anchors RE2). A label an alert does not have matches as "".
 * In the config file matchers are written as the rules engine writes them, a table of
 * label = "value" | "=value" | "!=value" | "=~regex" | "!~regex".
 *
 * Ownership: a struct am_matchers owns its matchers; am_matchers_free releases them. */
#ifndef DRWATCH_AM_MATCHER_H
#define DRWATCH_AM_MATCHER_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "xalloc.h"

enum am_match_op { AM_MATCH_EQ, AM_MATCH_NEQ, AM_MATCH_RE, AM_MATCH_NRE };

struct am_matcher {
    char *name;
    enum am_match_op op;
    char *value; /* unescaped */
    regex_t re;  /* for =~ and !~ */
};

struct am_matchers {
    struct am_matcher *v;
    size_t n;
};

/* Adds one matcher (compiling a regex). Returns 0, or -1 with err filled: an invalid label
 * name or a bad regex. */
DRW_MUST_CHECK int am_matchers_add(struct am_matchers *m, const char *name, enum am_match_op op,
                                   const char *value, char *err, size_t errlen);
/* Adds one matcher written in the config notation ("!=v", "=~re", ...). */
DRW_MUST_CHECK int am_matchers_add_spec(struct am_matchers *m, const char *name, const char *spec,
                                        char *err, size_t errlen);
void am_matchers_free(struct am_matchers *m); /* frees what m holds, not m */

/* Whether every matcher matches canonical label text (registry.h); true for no matchers. */
bool am_matchers_match(const struct am_matchers *m, const char *labels);
/* Whether matcher i matches the empty string (a silence needs one that does not). */
bool am_matcher_matches_empty(const struct am_matcher *m);
/* Alertmanager's text of the matchers, {a="b", c=~"d"}; caller frees. NULL when the text is
 * over CAP_SELECTOR_TEXT. */
DRW_MUST_CHECK char *am_matchers_text(const struct am_matchers *m);

#endif
