/* template.h: alert label and annotation templates, the subset of Prometheus' Go templates that
 * alert rules use, so that one annotation text means the same in drwatch and in Prometheus:
 *
 *   {{ $labels.site }}   {{ .Labels.site }}   {{ $value }}   {{ .Value }}   "text"   1.5   42
 *   {{ $value | humanize }}   {{ humanizeDuration $value }}   humanize1024, humanizePercentage
 *   {{ printf "%.1f%% of %s" $value $labels.site }}   {{ $value | printf "%.2f" }}
 *   {{ $labels.x | toUpper }}   toLower   title   {{- trim markers -}}   comments
 *
 * Values print as Go prints them ($value as %v: 1e+06, not 1000000; NaN, +Inf). printf takes
 * the flags -+ 0, a width, a precision and the verbs v s d f F e E g G, each suited to its
 * operand's type. Anything else, and whatever Go would fail on or print as "%!d(float64=1)",
 * is refused by template_check when the rule is loaded, not when the alert fires. The one
 * error left at expansion is a humanize function given text that is not a number, which
 * expands to "<error expanding template: ...>" as in Prometheus. toUpper, toLower and title
 * change ASCII and Latin-1 letters only. */
#ifndef DRWATCH_TEMPLATE_H
#define DRWATCH_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Checks a template; returns 0, or -1 with err filled. */
DRW_MUST_CHECK int template_check(const char *tmpl, char *err, size_t errlen);

/* Expands tmpl into out (reset first) with a label lookup (NULL: no labels) and the value.
 * Returns 0, or -1 with the reason in out (as Prometheus, which shows "<error expanding
 * template: ...>"). A missing label expands to "", as Prometheus' missingkey=zero. Not
 * DRW_MUST_CHECK: out holds the error text, which is what an alert shows, as in Prometheus. */
typedef bool (*template_label_fn)(void *arg, const char *name, struct buf *value);
int template_expand(const char *tmpl, template_label_fn labels, void *arg, double value,
                    struct buf *out);

#endif
