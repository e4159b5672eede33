/* metric.c: names of types and suffixes, and validity checks from the Prometheus data model. */
#include "metric.h"

#include <stdint.h>

const char *metric_type_name(enum metric_type t)
{
    switch (t) {
    case METRIC_COUNTER: return "counter";
    case METRIC_GAUGE: return "gauge";
    case METRIC_HISTOGRAM: return "histogram";
    case METRIC_SUMMARY: return "summary";
    case METRIC_INFO: return "gauge";
    case METRIC_STATESET: return "gauge";
    case METRIC_UNTYPED: break;
    }
    return "untyped";
}

const char *metric_type_name_openmetrics(enum metric_type t)
{
    switch (t) {
    case METRIC_COUNTER: return "counter";
    case METRIC_GAUGE: return "gauge";
    case METRIC_HISTOGRAM: return "histogram";
    case METRIC_SUMMARY: return "summary";
    case METRIC_INFO: return "info";
    case METRIC_STATESET: return "stateset";
    case METRIC_UNTYPED: break;
    }
    return "unknown";
}

const char *metric_suffix_text(enum metric_suffix s)
{
    switch (s) {
    case SUFFIX_BUCKET: return "_bucket";
    case SUFFIX_SUM: return "_sum";
    case SUFFIX_COUNT: return "_count";
    case SUFFIX_NONE: break;
    }
    return "";
}

static bool name_char(unsigned char c, bool first, bool colon)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') return true;
    if (colon && c == ':') return true;
    return !first && c >= '0' && c <= '9';
}

bool metric_name_valid(const char *s, size_t n)
{
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++)
        if (!name_char((unsigned char)s[i], i == 0, true)) return false;
    return true;
}

bool label_name_valid(const char *s, size_t n)
{
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++)
        if (!name_char((unsigned char)s[i], i == 0, false)) return false;
    return true;
}

bool utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        /* The lead byte gives the length; C0, C1 and F5..FF never start a valid sequence. */
        size_t len = c >= 0xc2 && c <= 0xdf   ? 2
                     : c >= 0xe0 && c <= 0xef ? 3
                     : c >= 0xf0 && c <= 0xf4 ? 4
                                              : 0;
        if (len == 0) return false;
        uint32_t cp = c & (0x7f >> len);
        if (i + len > n) return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}
