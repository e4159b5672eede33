/* template.h: alert label and annotation templates, the subset of Prometheus' Go templates that
 * alert rules use, so that one annotation text means the same in drwatch and in Prometheus:
 *
 *   {{ $labels.site }}   {{ $value }}   {{ $value | humanize }}   {{ humanizeDuration $value }}
 *   {{ $value | humanizePercentage }}   {{ $value | humanize1024 }}   {{ printf "%.2f" $value }}
 *   {{ $labels.x | toUpper }}   {{ $labels.x | toLower }}
 *
 * $value prints as Go's %v does (1e+06, not 1000000). Anything else is refused when the rule is
 * loaded, not when the alert fires. */
#ifndef DRWATCH_TEMPLATE_H
#define DRWATCH_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

/* Checks a template; returns 0, or -1 with err filled. */
int template_check(const char *tmpl, char *err, size_t errlen);

/* Expands tmpl into out with a label lookup and the value. Returns 0, or -1 with the reason in
 * out (as Prometheus, which shows "<error expanding template: ...>"). */
typedef bool (*template_label_fn)(void *arg, const char *name, struct buf *value);
int template_expand(const char *tmpl, template_label_fn labels, void *arg, double value,
                    struct buf *out);

/* Go's strconv.FormatFloat(v, 'g', -1, 64), which %v and {{ $value }} use. out: 40 bytes. */
void go_format_float(char *out, size_t outlen, double v);

#endif
