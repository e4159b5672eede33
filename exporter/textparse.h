/* textparse.h: a zero-copy parser for the Prometheus text exposition format 0.0.4.
 *
 * It reads a whole body in memory and reports HELP, TYPE and samples through callbacks, with
 * pointers into the input (valid only during the callback). It checks every rule of the format
 * (reference/prometheus-format.md §2) and stops at the first error with line, column and a
 * message worded like prometheus/common's TextParser.
 *
 * Two modes. Strict (textfiles: a human or cron job wrote them) refuses a second HELP or TYPE
 * for a family. Tolerant (scraped targets) accepts repeated metadata, because Kong with stream
 * listeners appends a second exposition that repeats HELP and TYPE (kong.md §6): a repeated
 * TYPE must agree with the first, a repeated HELP is dropped (the first one wins); both are
 * counted in textparse_stats.repeated_metadata. A TYPE after samples of its family is refused
 * in both modes.
 *
 * Family resolution follows Go's TextParser: a sample name that is already a family (it had
 * its own HELP, TYPE or samples) belongs to it; otherwise a name ending in _bucket, _sum or
 * _count joins a histogram (or, except _bucket, a summary) of the shorter name. */
#ifndef DRWATCH_TEXTPARSE_H
#define DRWATCH_TEXTPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metric.h"
#include "xalloc.h"

struct tp_label {
    const char *name;
    size_t name_len;
    const char *value; /* as written between the quotes: escapes not yet undone */
    size_t value_len;
};

struct tp_sample {
    const char *name; /* the whole sample name, e.g. "http_latency_bucket" */
    size_t name_len;
    size_t family_len;            /* name[0..family_len) is the family, e.g. "http_latency" */
    enum metric_suffix suffix;    /* what name adds to the family */
    enum metric_type family_type; /* the family's TYPE, untyped when none was given */
    const struct tp_label *labels;
    size_t nlabels;
    double value;
    bool has_timestamp;
    int64_t timestamp_ms;
    unsigned line;
};

/* Callbacks return 0 to go on; anything else stops the parse and is returned by
 * textparse_run (set err->msg with textparse_error_set first to say why). Any may be NULL,
 * and so may the handler itself. */
struct textparse_handler {
    int (*help)(void *ctx, const char *name, size_t name_len, const char *text, size_t text_len,
                unsigned line); /* text still escaped: \\ and \n */
    int (*type)(void *ctx, const char *name, size_t name_len, enum metric_type type, unsigned line);
    int (*sample)(void *ctx, const struct tp_sample *s);
};

struct textparse_opts {
    bool strict;
    size_t max_labels; /* per sample; 0 means 128 */
};

struct textparse_error {
    unsigned line; /* 1-based */
    unsigned col;  /* 1-based byte column of the fault in its line, 0 if not known */
    char msg[200];
};

struct textparse_stats {
    size_t lines;
    size_t samples;
    size_t families;
    size_t repeated_metadata;
};

#define TEXTPARSE_ESYNTAX (-1000) /* returned for errors in the input */

/* Parses buf[0..len). Returns 0, TEXTPARSE_ESYNTAX with err filled, or what a callback
 * returned. err is cleared first; opts, err and stats may be NULL. Every line must end with
 * "\n" ("\r\n" is tolerated); only blanks may follow the last one. stats->samples counts
 * the samples that passed the checks, including one whose callback stopped the parse. */
DRW_MUST_CHECK int textparse_run(const char *buf, size_t len, const struct textparse_handler *h,
                                 void *ctx, const struct textparse_opts *opts,
                                 struct textparse_error *err, struct textparse_stats *stats);

/* The same in pieces, for input read a bit at a time (a large textfile): feed parses the
 * complete lines of buf and says how many bytes it used; the caller keeps the incomplete last
 * line and feeds it again with what follows. end takes what is left after the last newline
 * (refused unless blank), frees the parser and returns its verdict. Line numbers and family
 * state carry over between pieces; pointers in callbacks are valid only during them. */
struct textparse;
struct textparse *textparse_begin(const struct textparse_handler *h, void *ctx,
                                  const struct textparse_opts *opts, struct textparse_error *err,
                                  struct textparse_stats *stats);
DRW_MUST_CHECK int textparse_feed(struct textparse *tp, const char *buf, size_t len,
                                  size_t *consumed);
DRW_MUST_CHECK int textparse_end(struct textparse *tp, const char *rest, size_t len);

void textparse_error_set(struct textparse_error *err, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Undoes the text format's escapes (\\, \" and \n) of src into dst, which needs src_len + 1
 * bytes. Returns the length written. The input must have passed the parser. */
size_t textparse_unescape(char *dst, const char *src, size_t src_len);

/* Parses a sample value as Prometheus' text parser does: Go's strconv.ParseFloat (decimal with
 * optional exponent, Inf/Infinity with an optional sign and NaN without one, in any case, any
 * length) minus what prometheus/common refuses on top: hex floats and underscores ("0x1p-2",
 * "1_000"). Also refuses blanks, "nan(...)" and values out of range ("1e400"). Returns 0,
 * -EINVAL, or -ERANGE out of range. */
DRW_MUST_CHECK int textparse_float(const char *s, size_t n, double *out);

#endif
