/* metric.h: the vocabulary shared by the parser, the registry and the renderers: metric
 * types, sample suffixes, and the name rules of the Prometheus data model. */
#ifndef DRWATCH_METRIC_H
#define DRWATCH_METRIC_H

#include <stdbool.h>
#include <stddef.h>

enum metric_type {
    METRIC_UNTYPED,
    METRIC_COUNTER,
    METRIC_GAUGE,
    METRIC_HISTOGRAM,
    METRIC_SUMMARY,
    METRIC_INFO,     /* OpenMetrics info; a gauge named *_info in text 0.0.4 */
    METRIC_STATESET, /* OpenMetrics stateset; a gauge in text 0.0.4 */
};

/* Which sample of a family a line is: histograms and summaries have several. */
enum metric_suffix {
    SUFFIX_NONE,
    SUFFIX_BUCKET,
    SUFFIX_SUM,
    SUFFIX_COUNT,
};

const char *metric_type_name(enum metric_type t); /* text 0.0.4 TYPE word */
const char *metric_type_name_openmetrics(enum metric_type t);
const char *metric_suffix_text(enum metric_suffix s); /* "", "_bucket", "_sum", "_count" */

/* [a-zA-Z_:][a-zA-Z0-9_:]* */
bool metric_name_valid(const char *s, size_t n);
/* [a-zA-Z_][a-zA-Z0-9_]* */
bool label_name_valid(const char *s, size_t n);
/* Strict UTF-8 check (no overlongs, no surrogates). */
bool utf8_valid(const char *s, size_t n);

#endif
