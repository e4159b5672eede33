/* selector.h: instant-vector selectors over a snapshot, as PromQL's `name{label op "value"}`.
 *
 * Matchers are =, !=, =~ and !~; a regex is anchored at both ends, as Prometheus anchors RE2,
 * and is written as for Prometheus: it is compiled as POSIX extended after translating what
 * RE2 writes differently (\d \s \w \D \S \W, \n \t \r \f \v \a, (?:...), and '.' that does
 * not match a newline, as in Prometheus 2.x); other RE2-only syntax (\p{..}, \x41, \A, \z,
 * (?i) and other flags) is refused rather than read another way. Matching is by bytes in the
 * C locale. A missing label matches as the empty string (so {a=""} selects series without
 * a). A name may address a histogram's or summary's _bucket, _sum or _count samples. */
#ifndef DRWATCH_SELECTOR_H
#define DRWATCH_SELECTOR_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "registry.h"

enum match_op { MATCH_EQ, MATCH_NEQ, MATCH_RE, MATCH_NRE };

struct matcher {
    char *name;
    enum match_op op;
    bool on_name;        /* a matcher on __name__: selector_match_name compares the series name */
    char *value;         /* unescaped */
    char *value_escaped; /* as in canonical label text, for = and != */
    regex_t re;
};

struct selector {
    char *name; /* the family name; NULL in a parsed selector without one (selector_parse) */
    struct matcher *m;
    size_t n;
};

/* Adds a matcher; for regexes, translates and compiles it. Returns 0, or -1 with err filled
 * (an invalid label name, a regex that does not compile or uses what is not supported);
 * then s is unchanged. value is kept as given (selector_text shows it). */
DRW_MUST_CHECK int selector_add(struct selector *s, const char *label, enum match_op op,
                                const char *value, char *err, size_t errlen);
void selector_free(struct selector *s); /* frees matchers and name, not s */
/* Whether every matcher matches canonical label text (a matcher on __name__ too: no label
 * text has that label, so it sees ""). */
bool selector_match_labels(const struct selector *s, const char *labels, size_t len);

/* Parses a PromQL series selector as Prometheus' ParseMetricSelector does (the match[] of its
 * /federate): `name`, `name{matchers}` or `{matchers}`; a matcher is `label op value` with op
 * =, !=, =~ or !~ and value a string in double or single quotes (Go's escapes: \a \b \f \n
 * \r \t \v \\, the quote, \ooo, \xhh, \uhhhh, \Uhhhhhhhh) or back quotes (raw);
 * matchers are separated by commas (one may end the list), and blanks and # comments may
 * stand between tokens. Like Prometheus it refuses a selector that would select everything
 * (no name and no matcher that refuses the empty value) and a name given twice (name and a
 * __name__ matcher); it takes nothing after the selector (a range, offset, @ or function).
 * A NUL in a value is refused, as are what selector_add refuses. Fills *out (name set when
 * given outside the braces; matchers on __name__ have on_name set) and returns 0, or returns
 * -1 with err as Prometheus words it, "1:5: parse error: ...", and *out empty. */
DRW_MUST_CHECK int selector_parse(const char *text, size_t len, struct selector *out, char *err,
                                  size_t errlen);
/* Whether a series named name (a histogram's or summary's with its _bucket, _sum or _count)
 * passes s's name and its matchers on __name__. */
bool selector_match_name(const struct selector *s, const char *name, size_t len);
/* Whether canonical label text passes s's matchers that are not on __name__. A series is
 * selected when both this and selector_match_name hold. */
bool selector_match_series_labels(const struct selector *s, const char *labels, size_t len);

/* Calls fn for every sample of snap that sel selects; sel->name must be set. */
typedef void (*select_fn)(void *arg, const struct metric_family *f, const struct metric_sample *m);
void snapshot_select(const struct snapshot *snap, const struct selector *sel, select_fn fn,
                     void *arg);

/* A canonical selector text (name{a="x",b=~"y"}), for keys and messages. Caller frees; NULL
 * when the text is over CAP_SELECTOR_TEXT. */
DRW_MUST_CHECK char *selector_text(const struct selector *s);

#endif
