/* template_format.h: Go's formatting of numbers and strings, as Prometheus' templates print them
 * (see template_format.c). Internal to the rules engine: template.c uses it; go_format_float and
 * go_format_float_e, which others use too, are declared in template.h. */
#ifndef DRWATCH_TEMPLATE_FORMAT_H
#define DRWATCH_TEMPLATE_FORMAT_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Go's %.{prec}g (prec < 0: the shortest, as %v), with Go's NaN, +Inf and -Inf. */
void go_format_g(char *out, size_t outlen, double v, int prec);

/* Prometheus' humanize functions, appended to out. Their order is the template functions'. */
enum go_humanize {
    GO_HUMANIZE,
    GO_HUMANIZE_1024,
    GO_HUMANIZE_PERCENTAGE,
    GO_HUMANIZE_DURATION,
};
void go_humanize(struct buf *out, enum go_humanize how, double v);

/* strings.ToUpper, ToLower and Title on s, in place: ASCII and the Latin-1 letters (other
 * text is left as it is; Title's word boundaries are Go's isSeparator). */
enum go_case { GO_UPPER, GO_LOWER, GO_TITLE };
void go_change_case(struct buf *s, enum go_case how);

/* The operand types of templates, and an operand for go_sprintf. */
enum go_type { GO_FLOAT64, GO_INT, GO_STRING };
const char *go_type_name(enum go_type t); /* "float64", "int", "string" */
struct go_arg {
    enum go_type t;
    double f;
    long long i;
    const char *s; /* GO_STRING: s[0..len) */
    size_t len;
};

/* Go's fmt.Sprintf(fmt, args...) appended to out, for the flags -+ 0 (space), a width and a
 * precision (at most GO_MAX_WIDTH) and the verbs v s d f F e E g G and %%. Returns 0, or -1
 * with err filled where Go would print "%!d(float64=1)", "%!(EXTRA ...)" or "%!v(MISSING)"
 * instead: a verb that does not suit its operand's type, or counts that differ. With out
 * NULL, only checks. */
#define GO_MAX_WIDTH 1000
DRW_MUST_CHECK int go_sprintf(struct buf *out, const char *fmt, const struct go_arg *args,
                              size_t nargs, char *err, size_t errlen);

/* Go's strconv.FormatFloat(v, 'g', -1, 64), which %v and {{ $value }} use. out: 40 bytes. */
void go_format_float(char *out, size_t outlen, double v);
/* Go's strconv.FormatFloat(v, 'e', -1, 64) ("1e+00", "1.5e-07", "NaN", "+Inf"): the shortest
 * digits in exponent form, as Prometheus' GET /api/v1/alerts writes an alert's value. out: 40
 * bytes. */
void go_format_float_e(char *out, size_t outlen, double v);

#endif
