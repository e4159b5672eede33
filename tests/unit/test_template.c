/* test_template.c: alert templates against Prometheus' template/template.go and Go's fmt:
 * go_format_float against strconv.FormatFloat(v, 'g', -1, 64); the humanize family with the
 * cases of Prometheus' template_test.go; printf verbs, flags, widths, NaN and Inf as Go prints
 * them; pipelines, literals, trim markers and comments; $labels with missing labels; what
 * template_check refuses (whatever Go would fail on or print as %!verb(...)); and the
 * "<error expanding template: ...>" text of expansion errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "caps.h"
#include "selector.h"
#include "tap.h"
#include "template.h"
#include "template_format.h"
#include "xalloc.h"

static bool lookup(void *arg, const char *name, struct buf *value)
{
    const char *labels = arg;
    return labels_get(labels, strlen(labels), name, value);
}

/* Expands tmpl with canonical labels and a value; returns a static copy of the text. */
static const char *expand(const char *tmpl, const char *labels, double value, int *rc)
{
    static char text[4096];
    struct buf b;
    buf_init(&b, CAP_TEMPLATE_TEXT);
    int r = template_expand(tmpl, lookup, (void *)labels, value, &b);
    if (rc) *rc = r;
    snprintf(text, sizeof(text), "%s", b.data ? b.data : "");
    buf_free(&b);
    return text;
}

static const char *fmtf(double v)
{
    static char out[40];
    go_format_float(out, sizeof(out), v);
    return out;
}

static void test_go_format_float(void)
{
    /* strconv.FormatFloat(v, 'g', -1, 64): the shortest digits, %e when exp < -4 || exp >= 6. */
    static const struct {
        double v;
        const char *want;
    } cases[] = {
        {1, "1"},
        {0.1, "0.1"},
        {1e6, "1e+06"},
        {123456, "123456"},
        {1234567, "1.234567e+06"},
        {999999, "999999"},
        {1e-5, "1e-05"},
        {0.0001, "0.0001"},
        {0.00012345, "0.00012345"},
        {-2.5, "-2.5"},
        {1e21, "1e+21"},
        {1e20, "1e+20"},
        {1e100, "1e+100"},
        {1.5e-300, "1.5e-300"},
        {0, "0"},
        {-0.0, "-0"},
        {100, "100"},
        {100000, "100000"},
        {0.3, "0.3"},
        {0.1 + 0.2, "0.30000000000000004"},
        {1.0 / 3, "0.3333333333333333"},
        {2.0 / 3, "0.6666666666666666"},
        {123.456, "123.456"},
        {-123456.7, "-123456.7"},
        {12345.678, "12345.678"},
        {1e15, "1e+15"},
        {123456789, "1.23456789e+08"},
        {9007199254740993.0, "9.007199254740992e+15"},
        {1.7976931348623157e308, "1.7976931348623157e+308"},
        {5e-324, "5e-324"},
        {2.2250738585072014e-308, "2.2250738585072014e-308"},
        {0.000123, "0.000123"},
        {0.00001234, "1.234e-05"},
        {42, "42"},
        {-1, "-1"},
        {3.14159, "3.14159"},
        {1e-7, "1e-07"},
        /* Next to powers of two the interval that reads back is narrower below: the shortest
         * text is then not the nearest 16-digit decimal (found by comparing with Python's repr,
         * which, as Go, prints the shortest). */
        {0x1p-1017, "7.120236347223045e-307"},
        {0x1p-1007, "7.291122019556398e-304"},
        {0x1p-705, "5.940911144672375e-213"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++)
        is_str(fmtf(cases[i].v), cases[i].want, "go_format_float(%.17g)", cases[i].v);
    is_str(fmtf(NAN), "NaN", "go_format_float(NaN) = NaN");
    is_str(fmtf(INFINITY), "+Inf", "go_format_float(+Inf) = +Inf");
    is_str(fmtf(-INFINITY), "-Inf", "go_format_float(-Inf) = -Inf");

    /* Every shortest text reads back as the same double. */
    unsigned long long x = 88172645463325252ULL;
    int bad = 0;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double v;
        memcpy(&v, &x, sizeof(v));
        if (isnan(v) || isinf(v)) continue;
        const char *s = fmtf(v);
        if (strtod(s, NULL) != v) bad++;
    }
    is_int(bad, 0, "20000 random doubles read back exactly");

    /* strconv.FormatFloat(v, 'e', -1, 64), as Prometheus' alerts API writes values. */
    static const struct {
        double v;
        const char *want;
    } ecases[] = {{1, "1e+00"},
                  {0, "0e+00"},
                  {-0.0, "-0e+00"},
                  {0.5, "5e-01"},
                  {1234.5, "1.2345e+03"},
                  {0.1, "1e-01"},
                  {-2.5e-7, "-2.5e-07"},
                  {1e100, "1e+100"},
                  {123456789, "1.23456789e+08"},
                  {0x1p-1017, "7.120236347223045e-307"},
                  {NAN, "NaN"},
                  {INFINITY, "+Inf"},
                  {-INFINITY, "-Inf"}};
    for (size_t i = 0; i < ARRAY_LEN(ecases); i++) {
        char e[40];
        go_format_float_e(e, sizeof(e), ecases[i].v);
        is_str(e, ecases[i].want, "go_format_float_e(%.17g)", ecases[i].v);
    }
    is_str(expand("{{ $value }}", "", 1e6, NULL), "1e+06", "{{ $value }} prints as Go's %%v");
    is_str(expand("{{ .Value }}", "", 0.5, NULL), "0.5", "{{ .Value }} too");
}

static void test_humanize(void)
{
    static const struct {
        const char *fn;
        double v;
        const char *want;
    } cases[] = {
        /* template_test.go: Humanize - float64 */
        {"humanize", 0, "0"},
        {"humanize", 1, "1"},
        {"humanize", 1234567, "1.235M"},
        {"humanize", .12, "120m"},
        /* Humanize - int: MaxInt64 as a float */
        {"humanize", -1, "-1"},
        {"humanize", 9223372036854775807.0, "9.223E"},
        {"humanize", 18446744073709551615.0, "18.45E"},
        {"humanize", 1e30, "1e+06Y"},
        {"humanize", 999.95, "1000"}, /* %.4g rounds up; no prefix: below 1000 */
        {"humanize", 1000, "1k"},
        {"humanize", -1500, "-1.5k"},
        {"humanize", 0.001, "1m"},
        {"humanize", 1e-30, "1e-06y"},
        {"humanize", -0.000002, "-2u"},
        /* Humanize1024 */
        {"humanize1024", 0, "0"},
        {"humanize1024", 1, "1"},
        {"humanize1024", 1048576, "1Mi"},
        {"humanize1024", .12, "0.12"},
        {"humanize1024", -1, "-1"},
        {"humanize1024", 1234567, "1.177Mi"},
        {"humanize1024", 9223372036854775807.0, "8Ei"},
        {"humanize1024", 18446744073709551615.0, "16Ei"},
        {"humanize1024", 1023, "1023"},
        {"humanize1024", 1024, "1ki"},
        /* HumanizeDuration - seconds */
        {"humanizeDuration", 0, "0s"},
        {"humanizeDuration", 1, "1s"},
        {"humanizeDuration", 60, "1m 0s"},
        {"humanizeDuration", 3600, "1h 0m 0s"},
        {"humanizeDuration", 86400, "1d 0h 0m 0s"},
        {"humanizeDuration", 86400 + 3600, "1d 1h 0m 0s"},
        {"humanizeDuration", -(86400 * 2 + 3600 * 3 + 60 * 4 + 5), "-2d 3h 4m 5s"},
        {"humanizeDuration", 899.99, "14m 59s"},
        /* HumanizeDuration - subsecond and fractional seconds */
        {"humanizeDuration", .1, "100ms"},
        {"humanizeDuration", .0001, "100us"},
        {"humanizeDuration", .12345, "123.5ms"},
        {"humanizeDuration", 60.1, "1m 0s"},
        {"humanizeDuration", 60.5, "1m 0s"},
        {"humanizeDuration", 1.2345, "1.234s"},
        {"humanizeDuration", 12.345, "12.35s"},
        /* HumanizeDuration - int */
        {"humanizeDuration", -1, "-1s"},
        {"humanizeDuration", 1234567, "14d 6h 56m 7s"},
        {"humanizeDuration", -0.5, "-500ms"},
        /* HumanizePercentage */
        {"humanizePercentage", -0.22222, "-22.22%"},
        {"humanizePercentage", 0, "0%"},
        {"humanizePercentage", 0.1234567, "12.35%"},
        {"humanizePercentage", 1.23456, "123.5%"},
        {"humanizePercentage", -1, "-100%"},
        {"humanizePercentage", 1, "100%"},
        {"humanizePercentage", 1234567, "1.235e+08%"},
        {"humanizePercentage", 9223372036854775807.0, "9.223e+20%"},
        {"humanizePercentage", 18446744073709551615.0, "1.845e+21%"},
    };
    char tmpl[100];
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        snprintf(tmpl, sizeof(tmpl), "{{ %s $value }}", cases[i].fn);
        is_str(expand(tmpl, "", cases[i].v, NULL), cases[i].want, "%s %.17g", cases[i].fn,
               cases[i].v);
        snprintf(tmpl, sizeof(tmpl), "{{ $value | %s }}", cases[i].fn);
        is_str(expand(tmpl, "", cases[i].v, NULL), cases[i].want, "$value | %s (%.17g)",
               cases[i].fn, cases[i].v);
    }

    /* Humanize* Inf and NaN - float64 (template_test.go). */
    static const char *const fns[] = {"humanize", "humanize1024", "humanizeDuration"};
    for (size_t i = 0; i < ARRAY_LEN(fns); i++) {
        snprintf(tmpl, sizeof(tmpl), "{{ %s $value }}", fns[i]);
        is_str(expand(tmpl, "", INFINITY, NULL), "+Inf", "%s +Inf = +Inf", fns[i]);
        is_str(expand(tmpl, "", -INFINITY, NULL), "-Inf", "%s -Inf = -Inf", fns[i]);
        is_str(expand(tmpl, "", NAN, NULL), "NaN", "%s NaN = NaN", fns[i]);
    }
    is_str(expand("{{ humanizePercentage $value }}", "", NAN, NULL), "NaN%",
           "humanizePercentage NaN = NaN%%");
    is_str(expand("{{ humanizePercentage $value }}", "", INFINITY, NULL), "+Inf%",
           "humanizePercentage +Inf = +Inf%%");
    /* Past int64: Go's int64() on amd64 gives MinInt64; C would be undefined. */
    is_str(expand("{{ humanizeDuration $value }}", "", 1e19, NULL),
           "-106751991167300d -15h -30m -8s", "humanizeDuration 1e19 as Go on amd64");

    /* Strings (label values) are parsed as strconv.ParseFloat does (Humanize - string). */
    const char *labels = "a=\"0.0\",b=\"1.0\",c=\"1234567.0\",d=\".12\",e=\"+Inf\",f=\"NaN\","
                         "g=\"60.5\",h=\"1048576.0\",i=\"-0.22222\",j=\"1e3\"";
    is_str(expand("{{ $labels.a | humanize }}:{{ $labels.b | humanize }}:{{ $labels.c | "
                  "humanize }}:{{ $labels.d | humanize }}:",
                  labels, 0, NULL),
           "0:1:1.235M:120m:", "humanize on label text");
    is_str(expand("{{ humanize1024 $labels.a }}:{{ humanize1024 $labels.b }}:{{ humanize1024 "
                  "$labels.h }}:{{ humanize1024 $labels.d }}:",
                  labels, 0, NULL),
           "0:1:1Mi:0.12:", "humanize1024 on label text");
    is_str(expand("{{ humanize $labels.e }}:{{ humanize1024 $labels.e }}:{{ humanizeDuration "
                  "$labels.e }}:{{ humanize $labels.f }}:{{ humanizeDuration $labels.g }}",
                  labels, 0, NULL),
           "+Inf:+Inf:+Inf:NaN:1m 0s", "Inf and NaN as label text");
    is_str(
        expand("{{ $labels.i | humanizePercentage }} {{ $labels.j | humanize }}", labels, 0, NULL),
        "-22.22% 1k", "humanizePercentage and exponents in label text");

    /* Literals, as in template_test.go. */
    is_str(expand("{{ -0.22222 | humanizePercentage }}:{{ 0.0 | humanizePercentage }}:{{ "
                  "0.1234567 | humanizePercentage }}:{{ 1.23456 | humanizePercentage }}",
                  "", 0, NULL),
           "-22.22%:0%:12.35%:123.5%", "HumanizePercentage - model.SampleValue input");
    is_str(expand("{{ \"-0.22222\" | humanizePercentage }}:{{ \"0.0\" | humanizePercentage }}", "",
                  0, NULL),
           "-22.22%:0%", "HumanizePercentage - string input");
    is_str(expand("{{ humanize 1234567 }} {{ humanizeDuration 1234567 }} {{ humanize1024 -1 }}", "",
                  0, NULL),
           "1.235M 14d 6h 56m 7s -1", "humanize on integer literals");
}

static void test_expansion_errors(void)
{
    int rc = 0;
    /* Humanize - string with error (template_test.go), as the alert shows it. */
    is_str(expand("{{ humanize \"one\" }}", "", 0, &rc),
           "<error expanding template: error calling humanize: strconv.ParseFloat: parsing "
           "\"one\": invalid syntax>",
           "humanize \"one\" is an expansion error");
    is_int(rc, -1, "template_expand returns -1 on an expansion error");
    is_str(expand("a {{ $labels.x | humanize1024 }} b", "x=\"12MB\"", 0, NULL),
           "<error expanding template: error calling humanize1024: strconv.ParseFloat: parsing "
           "\"12MB\": invalid syntax>",
           "a label that is not a number: the whole text is the error, as in Prometheus");
    is_str(expand("{{ humanizeDuration $labels.missing }}", "", 0, NULL),
           "<error expanding template: error calling humanizeDuration: strconv.ParseFloat: "
           "parsing \"\": invalid syntax>",
           "a missing label is \"\", which is not a number");
    is_str(expand("{{ \"one\" | humanizePercentage }}", "", 0, NULL),
           "<error expanding template: error calling humanizePercentage: strconv.ParseFloat: "
           "parsing \"one\": invalid syntax>",
           "piped text that is not a number");
    is_str(expand("{{ humanize $labels.x }}", "x=\"1e400\"", 0, NULL),
           "<error expanding template: error calling humanize: strconv.ParseFloat: parsing "
           "\"1e400\": value out of range>",
           "out of range, as ParseFloat says");
    is_str(expand("{{ humanize $labels.x }}", "x=\" 1\"", 0, NULL),
           "<error expanding template: error calling humanize: strconv.ParseFloat: parsing \" "
           "1\": invalid syntax>",
           "ParseFloat takes no blanks");
    /* A template that template_check would refuse still expands to an error, not a crash. */
    is_int(
        strncmp(expand("{{ if $value }}x{{ end }}", "", 0, &rc), "<error expanding template: ", 27),
        0, "an unchecked bad template expands to an error text");
    is_int(rc, -1, "and returns -1");
    struct buf b;
    buf_init(&b, CAP_TEMPLATE_TEXT);
    is_int(template_expand("{{ $labels.x }}/{{ $value }}", NULL, NULL, 2, &b), 0,
           "no label lookup: labels are empty");
    is_str(b.data, "/2", "no label lookup: text");
    buf_free(&b);
}

static void test_printf(void)
{
    static const struct {
        const char *tmpl;
        double v;
        const char *want;
    } cases[] = {
        {"{{ printf \"%.2f\" $value }}", 3.14159, "3.14"},
        {"{{ printf \"%.1f%%\" $value }}", 99.44, "99.4%"},
        {"{{ printf \"%.0f\" $value }}", 2.5, "2"},
        {"{{ printf \"%.0f\" $value }}", 3.5, "4"},
        {"{{ printf \"%f\" $value }}", 1, "1.000000"},
        {"{{ printf \"%8.3f|\" $value }}", -1.5, "  -1.500|"},
        {"{{ printf \"%-8.3f|\" $value }}", 1.5, "1.500   |"},
        {"{{ printf \"%08.3f\" $value }}", -1.5, "-001.500"},
        {"{{ printf \"%+.1f\" $value }}", 1.25, "+1.2"},
        {"{{ printf \"% .1f\" $value }}", 1.25, " 1.2"},
        {"{{ printf \"%e\" $value }}", 123456, "1.234560e+05"},
        {"{{ printf \"%.2E\" $value }}", 0.000123, "1.23E-04"},
        {"{{ printf \"%g\" $value }}", 1234567, "1.234567e+06"},
        {"{{ printf \"%g\" $value }}", 100000, "100000"},
        {"{{ printf \"%.3g\" $value }}", 1234567, "1.23e+06"},
        {"{{ printf \"%.3g\" $value }}", 0.0001234, "0.000123"},
        {"{{ printf \"%G\" $value }}", 1e-7, "1E-07"},
        {"{{ printf \"%v\" $value }}", 1e6, "1e+06"},
        {"{{ printf \"%.2v\" $value }}", 1234, "1.2e+03"},
        {"{{ printf \"%10v|\" $value }}", 0.5, "       0.5|"},
        {"{{ printf \"%F\" $value }}", 2, "2.000000"},
        /* Checked against promtool 2.42: %+v shows no sign (it is Go's plusV), % v does. */
        {"{{ printf \"%+v|% v|%+e\" $value $value $value }}", 0.5, "0.5| 0.5|+5.000000e-01"},
        {"{{ printf \"%5.1v|%-7.2e|%+08.3g\" $value $value $value }}", 1234567,
         "1e+06|1.23e+06|+1.23e+06"},
        {"{{ printf \"latency %.1fms on %s\" $value $labels.site }}", 12.34,
         "latency 12.3ms on gold"},
        {"{{ $value | printf \"%.2f\" }}", 2, "2.00"},
        {"{{ $value | printf \"%s=%.2f\" \"v\" }}", 2, "v=2.00"},
        {"{{ printf \"100%%\" }}", 0, "100%"},
        {"{{ printf \"a long format string, longer than thirty-one bytes: %.3f units\" $value }}",
         1, "a long format string, longer than thirty-one bytes: 1.000 units"},
        /* Go's NaN and Inf under %f: "+Inf" keeps its sign, never zero padded. */
        {"{{ printf \"%.2f\" $value }}", NAN, "NaN"},
        {"{{ printf \"%.2f\" $value }}", INFINITY, "+Inf"},
        {"{{ printf \"%.2f\" $value }}", -INFINITY, "-Inf"},
        {"{{ printf \"%06.2f\" $value }}", INFINITY, "  +Inf"},
        {"{{ printf \"%+f\" $value }}", NAN, "+NaN"},
        {"{{ printf \"% f\" $value }}", NAN, " NaN"},
        {"{{ printf \"%-5f|\" $value }}", NAN, "NaN  |"},
        {"{{ printf \"%e\" $value }}", NAN, "NaN"},
        {"{{ printf \"%g\" $value }}", -INFINITY, "-Inf"},
        {"{{ printf \"%.1f\" $value }}", -0.0, "-0.0"},
        /* Strings: %s, %v, width and precision in characters. */
        {"{{ printf \"%s\" $labels.site }}", 0, "gold"},
        {"{{ printf \"%6s|\" $labels.site }}", 0, "  gold|"},
        {"{{ printf \"%-6s|\" $labels.site }}", 0, "gold  |"},
        {"{{ printf \"%.2s\" $labels.site }}", 0, "go"},
        {"{{ printf \"%.2s|%5s\" $labels.u $labels.u }}", 0, "\xc3\xa9t|  \xc3\xa9t\xc3\xa9"},
        {"{{ printf \"%v\" $labels.site }}", 0, "gold"},
        {"{{ printf \"[%s]\" $labels.missing }}", 0, "[]"},
        /* Integers (literals only). */
        {"{{ printf \"%d\" 42 }}", 0, "42"},
        {"{{ printf \"%05d|%-4d|%+d\" 42 7 3 }}", 0, "00042|7   |+3"},
        {"{{ printf \"%v\" -3 }}", 0, "-3"},
        {"{{ printf \"%s: %s\" \"a\" `b\\n` }}", 0, "a: b\\n"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char err[300];
        int ck = template_check(cases[i].tmpl, err, sizeof(err));
        if (!ok(ck == 0, "template_check accepts %s", cases[i].tmpl)) diag("%s", err);
        is_str(expand(cases[i].tmpl, "site=\"gold\",u=\"\xc3\xa9t\xc3\xa9\"", cases[i].v, NULL),
               cases[i].want, "%s with %g", cases[i].tmpl, cases[i].v);
    }
}

static void test_pipelines_and_text(void)
{
    const char *labels =
        "instance=\"db-1:5432\",job=\"my_db job\",site=\"GoldDR\","
        "q=\"say \\\"hi\\\"\\\\n\",nl=\"a\\nb\",name=\"\xc3\xa9mile z\xc3\xbcrich\"";
    static const struct {
        const char *tmpl, *want;
    } cases[] = {
        {"plain text", "plain text"},
        {"", ""},
        {"{{ $labels.instance }} is down", "db-1:5432 is down"},
        {"{{ .Labels.instance }}", "db-1:5432"},
        {"{{$labels.site}}", "GoldDR"},
        {"[{{ $labels.missing }}]", "[]"},
        {"{{ $labels.q }}", "say \"hi\"\\n"},
        {"{{ $labels.nl }}", "a\nb"},
        {"{{ $labels.site | toUpper }}", "GOLDDR"},
        {"{{ $labels.site | toLower }}", "golddr"},
        {"{{ toLower $labels.site }}", "golddr"},
        {"{{ $labels.job | title }}", "My_db Job"},
        {"{{ \"aa bb CC\" | title }}", "Aa Bb CC"},
        {"{{ \"aa bb CC\" | toUpper }}", "AA BB CC"},
        {"{{ \"aA bB CC\" | toLower }}", "aa bb cc"},
        {"{{ \"hello-world x2y\" | title }}", "Hello-World X2y"},
        {"{{ $labels.name | title }}", "\xc3\x89mile Z\xc3\xbcrich"},
        {"{{ $labels.name | toUpper }}", "\xc3\x89MILE Z\xc3\x9cRICH"},
        {"{{ \"\xc3\x89MILE\" | toLower }}", "\xc3\xa9mile"},
        {"{{ $value | humanize | toUpper }}", "1.5K"},
        {"{{ humanize $value | printf \"~%s\" }}", "~1.5k"},
        {"{{ $value | printf \"%.1f\" | humanize }}", "1.5k"},
        {"{{ 1 }}", "1"},
        {"{{ 1.5 }}", "1.5"},
        {"{{ 1e6 }}", "1e+06"},
        {"{{ -7 }}", "-7"},
        {"{{ \"<b>\" }}", "<b>"},
        {"{{ `raw {{ }} \\n` }}", "raw {{ }} \\n"},
        {"{{ \"tab\\there \\u00e9 \\x41 \\101\" }}", "tab\there \xc3\xa9 A A"},
        {"a }} b", "a }} b"},
        {"{{ \"}}\" }}", "}}"},
        {"x {{- $labels.site }} y", "xGoldDR y"},
        {"x {{ $labels.site -}} y", "x GoldDRy"},
        {"a \n {{- /* a comment */ -}} \n b", "ab"},
        {"a{{/* a comment */}}b", "ab"},
        {"{{-3}}", "-3"},
        {"{{ $value }}{{ $value }}", "15001500"},
        {"line1\n{{ $labels.site }}\nline3", "line1\nGoldDR\nline3"},
        {"{{\n$labels.site\n}}", "GoldDR"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char err[300];
        int ck = template_check(cases[i].tmpl, err, sizeof(err));
        if (!ok(ck == 0, "template_check accepts %s", cases[i].tmpl)) diag("%s", err);
        is_str(expand(cases[i].tmpl, labels, 1500, NULL), cases[i].want, "expand %s",
               cases[i].tmpl);
    }
}

static void test_check_refuses(void)
{
    static const char *const bad[] = {
        "{{",
        "{{ $value",
        "a {{ $labels.x }",
        "{{ }}",
        "{{ $value | }}",
        "{{ | humanize }}",
        "{{ if $value }}x{{ end }}",
        "{{ range . }}{{ . }}{{ end }}",
        "{{ with $labels.x }}{{ . }}{{ end }}",
        "{{ define \"x\" }}{{ end }}",
        "{{ template \"x\" }}",
        "{{ $labels }}",
        "{{ $labels.a-b }}",
        "{{ $labels.x.y }}",
        "{{ $x := 1 }}",
        "{{ .Labels }}",
        "{{ . }}",
        "{{ $externalLabels.x }}",
        "{{ query \"up\" }}",
        "{{ humanizeTimestamp $value }}",
        "{{ reReplaceAll \"a\" \"b\" $labels.x }}",
        "{{ (humanize $value) }}",
        "{{ humanize }}",
        "{{ humanize $value $value }}",
        "{{ $value | humanize $value }}",
        "{{ $value $value }}",
        "{{ $value | $value }}",
        "{{ humanize humanize }}",
        "{{ printf }}",
        "{{ printf $value }}",
        "{{ printf \"%.2f\" }}",
        "{{ printf \"x\" $value }}",
        "{{ printf \"%.2f %.2f\" $value }}",
        "{{ printf \"%d\" $value }}",
        "{{ printf \"%s\" $value }}",
        "{{ printf \"%.2f\" $labels.x }}",
        "{{ printf \"%d\" $labels.x }}",
        "{{ printf \"%f\" 3 }}",
        "{{ printf \"%x\" $value }}",
        "{{ printf \"%q\" $labels.x }}",
        "{{ printf \"%*d\" 3 4 }}",
        "{{ printf \"%[1]f\" $value }}",
        "{{ printf \"%#v\" $value }}",
        "{{ printf \"%05s\" $labels.x }}",
        "{{ printf \"%.2f\" }}",
        "{{ printf \"abc%\" $value }}",
        "{{ printf \"%99999f\" $value }}",
        "{{ printf \"%.9999f\" $value }}",
        "{{ $value | toUpper }}",
        "{{ toLower $value }}",
        "{{ 1 | title }}",
        "{{ \"unterminated }}",
        "{{ \"bad \\q escape\" }}",
        "{{ `unterminated }}",
        "{{ 0x1F }}",
        "{{ 1_000 }}",
        "{{ 1e }}",
        "{{ nil }}",
        "{{ true }}",
        "{{ /* not a comment: a space first */ }}",
        "{{/* unclosed comment }}",
        "{{/* comment */ $value }}",
        "{{ $value | humanize | humanize | humanize | humanize | humanize | humanize | humanize "
        "| humanize | humanize }}",
        "{{ printf \"%v%v%v%v%v%v%v%v%v\" 1 2 3 4 5 6 7 8 9 }}",
        "{{ index $labels \"x\" }}",
        "ok {{ $value }} then {{ bad }}",
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        char err[300] = "";
        int rc = template_check(bad[i], err, sizeof(err));
        ok(rc == -1 && strncmp(err, "unsupported template action {{", 30) == 0,
           "template_check refuses %s", bad[i]);
        if (rc != -1) diag("accepted");
        int erc;
        const char *text = expand(bad[i], "x=\"1\"", 1, &erc);
        ok(erc == -1 && strncmp(text, "<error expanding template: unsupported", 38) == 0,
           "and expansion shows the error: %s", text);
    }
    /* The reasons are specific. */
    char err[300];
    is_int(template_check("{{ printf \"%d\" $value }}", err, sizeof(err)), -1, "refused");
    ok(strstr(err, "%d does not suit a float64 argument") && strstr(err, "%.0f"),
       "%%d with $value: says why and what to use (%s)", err);
    is_int(template_check("{{ $value | toUpper }}", err, sizeof(err)), -1, "refused");
    ok(strstr(err, "expected string; got float64") != NULL, "toUpper on $value: says why (%s)",
       err);
    is_int(template_check("{{ if $value }}", err, sizeof(err)), -1, "refused");
    ok(strstr(err, "\"if\" is not supported") != NULL, "if: says it is not supported (%s)", err);
    is_int(template_check("{{ query \"up\" }}", err, sizeof(err)), -1, "refused");
    ok(strstr(err, "unknown function query") != NULL, "query: unknown function (%s)", err);
    /* A small error buffer is filled, not overrun. */
    char small[16];
    memset(small, 'x', sizeof(small));
    is_int(template_check("{{ nope }}", small, 8), -1, "refused");
    ok(memchr(small, '\0', 8) != NULL && small[8] == 'x', "a short error buffer is respected");
}

/* A template with many actions and long text expands whole (no fixed-size buffers). */
static void test_large(void)
{
    struct buf t, want;
    buf_init(&t, CAP_TEMPLATE_TEXT);
    buf_init(&want, CAP_TEMPLATE_TEXT);
    for (int i = 0; i < 2000; i++) {
        buf_printf(&t, "<%d:{{ $labels.site }}:{{ printf \"%%.1f\" $value }}>", i);
        buf_printf(&want, "<%d:gold:2.5>", i);
    }
    char err[300];
    is_int(template_check(t.data, err, sizeof(err)), 0, "a 2000-action template is accepted");
    struct buf out;
    buf_init(&out, CAP_TEMPLATE_TEXT);
    template_expand(t.data, lookup, "site=\"gold\"", 2.5, &out);
    is_str(out.data, want.data, "and expands whole");
    char *longv = xmalloc(100001);
    memset(longv, 'v', 100000);
    longv[100000] = '\0';
    char *labels = xasprintf("x=\"%s\"", longv);
    template_expand("[{{ $labels.x }}]", lookup, labels, 0, &out);
    is_int(out.len, 100002, "a 100000-byte label value is copied whole");
    template_expand("{{ printf \"%1000.1000s\" $labels.x }}", lookup, labels, 0, &out);
    is_int(out.len, 1000, "width and precision at the cap");
    free(labels);
    free(longv);
    buf_free(&out);
    buf_free(&t);
    buf_free(&want);
}

int main(void)
{
    test_go_format_float();
    test_humanize();
    test_expansion_errors();
    test_printf();
    test_pipelines_and_text();
    test_check_refuses();
    test_large();
    return done_testing();
}
