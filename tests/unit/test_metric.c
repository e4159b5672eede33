/* test_metric.c: type and suffix names, metric and label name rules, the UTF-8 check. */
#include <string.h>

#include "metric.h"
#include "tap.h"

static void test_names(void)
{
    static const struct {
        enum metric_type t;
        const char *text, *om;
    } types[] = {
        {METRIC_UNTYPED, "untyped", "unknown"}, {METRIC_COUNTER, "counter", "counter"},
        {METRIC_GAUGE, "gauge", "gauge"},       {METRIC_HISTOGRAM, "histogram", "histogram"},
        {METRIC_SUMMARY, "summary", "summary"}, {METRIC_INFO, "gauge", "info"},
        {METRIC_STATESET, "gauge", "stateset"},
    };
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        is_str(metric_type_name(types[i].t), types[i].text, "text 0.0.4 TYPE of %s", types[i].om);
        is_str(metric_type_name_openmetrics(types[i].t), types[i].om, "OpenMetrics TYPE of %s",
               types[i].om);
    }
    is_str(metric_suffix_text(SUFFIX_NONE), "", "no suffix");
    is_str(metric_suffix_text(SUFFIX_BUCKET), "_bucket", "_bucket");
    is_str(metric_suffix_text(SUFFIX_SUM), "_sum", "_sum");
    is_str(metric_suffix_text(SUFFIX_COUNT), "_count", "_count");
}

static void test_name_rules(void)
{
    static const char *const good_metric[] = {"a",          "_",     ":",       "up",
                                              "job:rate5m", "A_b_9", "_hidden", "x1"};
    static const char *const bad_metric[] = {"", "9a", "a-b", "a.b", "a b", "é", "a{", "a\n"};
    for (size_t i = 0; i < sizeof(good_metric) / sizeof(*good_metric); i++)
        ok(metric_name_valid(good_metric[i], strlen(good_metric[i])), "metric name \"%s\" valid",
           good_metric[i]);
    for (size_t i = 0; i < sizeof(bad_metric) / sizeof(*bad_metric); i++)
        ok(!metric_name_valid(bad_metric[i], strlen(bad_metric[i])), "metric name \"%s\" invalid",
           bad_metric[i]);
    static const char *const good_label[] = {"a", "_", "le", "quantile", "A_b_9", "__name__"};
    static const char *const bad_label[] = {"", "9a", "a:b", ":", "a-b", "a b", "é"};
    for (size_t i = 0; i < sizeof(good_label) / sizeof(*good_label); i++)
        ok(label_name_valid(good_label[i], strlen(good_label[i])), "label name \"%s\" valid",
           good_label[i]);
    for (size_t i = 0; i < sizeof(bad_label) / sizeof(*bad_label); i++)
        ok(!label_name_valid(bad_label[i], strlen(bad_label[i])), "label name \"%s\" invalid",
           bad_label[i]);
    ok(metric_name_valid("up_and_more", 2), "only n bytes are checked");
    ok(!metric_name_valid("up\0x", 3), "a NUL inside the name is invalid");
}

static void test_utf8(void)
{
    static const struct {
        const char *s;
        size_t n;
        bool valid;
        const char *what;
    } cases[] = {
        {"", 0, true, "empty"},
        {"plain ascii", 11, true, "ASCII"},
        {"caf\xc3\xa9", 5, true, "2 bytes"},
        {"\xe2\x9c\x93", 3, true, "3 bytes"},
        {"\xf0\x9f\x98\x80", 4, true, "4 bytes"},
        {"\xf4\x8f\xbf\xbf", 4, true, "U+10FFFF, the last code point"},
        {"\xef\xbf\xbf", 3, true, "U+FFFF (a noncharacter, still UTF-8)"},
        {"a\0b", 3, true, "NUL is valid UTF-8"},
        {"\x80", 1, false, "a lone continuation byte"},
        {"\xc3", 1, false, "truncated 2-byte sequence"},
        {"\xe2\x9c", 2, false, "truncated 3-byte sequence"},
        {"\xc0\xaf", 2, false, "overlong '/' (C0)"},
        {"\xc1\xbf", 2, false, "overlong (C1)"},
        {"\xe0\x80\xaf", 3, false, "overlong 3-byte"},
        {"\xf0\x80\x80\xaf", 4, false, "overlong 4-byte"},
        {"\xed\xa0\x80", 3, false, "surrogate U+D800"},
        {"\xed\xbf\xbf", 3, false, "surrogate U+DFFF"},
        {"\xf4\x90\x80\x80", 4, false, "above U+10FFFF"},
        {"\xf5\x80\x80\x80", 4, false, "F5 lead byte"},
        {"\xff", 1, false, "FF"},
        {"\xc3\x28", 2, false, "bad continuation byte"},
        {"ok\xe2\x9c\x93ok\xc3", 8, false, "valid text with a truncated tail"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        ok(utf8_valid(cases[i].s, cases[i].n) == cases[i].valid, "utf8_valid: %s", cases[i].what);
}

int main(void)
{
    test_names();
    test_name_rules();
    test_utf8();
    return done_testing();
}
