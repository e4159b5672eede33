/* test_selector.c: label matchers over snapshots, as PromQL selects: =, !=, =~ (anchored at
 * both ends), !~, a missing label matching as "", escaped values (quotes, backslashes,
 * newlines) compared unescaped, regexes written as for Prometheus (RE2 classes and escapes
 * translated, what POSIX would read another way refused), histogram _bucket/_sum/_count and
 * summary quantiles by name, selector_text and labels_get; PromQL selector text as Prometheus'
 * ParseMetricSelector reads it (/federate's match[]), with its errors. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "caps.h"
#include "registry.h"
#include "selector.h"
#include "tap.h"
#include "xalloc.h"

/* The end of a sel() argument list: a pointer, never a bare NULL (which may be an int). */
#define END ((const char *)NULL)

static struct snapshot *snap;

static void add(struct metric_set *m, struct metric_family *f, enum metric_suffix sfx, double v,
                ...)
{
    struct label_pair p[8];
    size_t n = 0;
    va_list ap;
    va_start(ap, v);
    for (const char *k; n < 8 && (k = va_arg(ap, const char *));) {
        p[n].name = k;
        p[n++].value = va_arg(ap, const char *);
    }
    va_end(ap);
    if (mset_add(m, f, sfx, p, n, v) != 0) diag("mset_add failed");
}

static void build_snapshot(void)
{
    struct metric_set *m = mset_new();
    struct metric_family *up = mset_family(m, "up", METRIC_GAUGE, "");
    add(m, up, SUFFIX_NONE, 1, "job", "a", "instance", "x", (char *)NULL);
    add(m, up, SUFFIX_NONE, 2, "job", "a", "instance", "y", "env", "prod", (char *)NULL);
    add(m, up, SUFFIX_NONE, 3, "job", "b", (char *)NULL);
    add(m, up, SUFFIX_NONE, 4, "job", "ab", "env", "", (char *)NULL); /* env="" is dropped */
    add(m, up, SUFFIX_NONE, 5, (char *)NULL);                         /* no labels at all */
    struct metric_family *esc = mset_family(m, "esc", METRIC_GAUGE, "");
    add(m, esc, SUFFIX_NONE, 1, "v", "say \"hi\"", (char *)NULL);
    add(m, esc, SUFFIX_NONE, 2, "v", "C:\\path\\x", (char *)NULL);
    add(m, esc, SUFFIX_NONE, 3, "v", "a\nb", (char *)NULL);
    add(m, esc, SUFFIX_NONE, 4, "v", "503", (char *)NULL);
    add(m, esc, SUFFIX_NONE, 5, "v", "5dd", (char *)NULL);
    add(m, esc, SUFFIX_NONE, 6, "v", "a.b", (char *)NULL);
    add(m, esc, SUFFIX_NONE, 7, "v", "A_b-9", (char *)NULL);
    add(m, esc, SUFFIX_NONE, 8, "v", "tab\there", (char *)NULL);
    add(m, esc, SUFFIX_NONE, 9, "v", "x{y", (char *)NULL);
    struct metric_family *h = mset_family(m, "lat_seconds", METRIC_HISTOGRAM, "");
    const char *le[] = {"0.1", "1", "+Inf"};
    for (int s = 0; s < 2; s++) {
        const char *site = s ? "gold" : "golddr";
        for (int i = 0; i < 3; i++)
            add(m, h, SUFFIX_BUCKET, i + 1 + 10 * s, "le", le[i], "site", site, (char *)NULL);
        add(m, h, SUFFIX_SUM, 0.5 + s, "site", site, (char *)NULL);
        add(m, h, SUFFIX_COUNT, 3 + 10 * s, "site", site, (char *)NULL);
    }
    struct metric_family *sm = mset_family(m, "rpc_seconds", METRIC_SUMMARY, "");
    add(m, sm, SUFFIX_NONE, 0.01, "quantile", "0.5", (char *)NULL);
    add(m, sm, SUFFIX_NONE, 0.09, "quantile", "0.9", (char *)NULL);
    add(m, sm, SUFFIX_SUM, 7, (char *)NULL);
    add(m, sm, SUFFIX_COUNT, 70, (char *)NULL);
    /* A family whose own name ends in _bucket, and a _count with no family behind it. */
    struct metric_family *wb = mset_family(m, "weird_bucket", METRIC_GAUGE, "");
    add(m, wb, SUFFIX_NONE, 42, (char *)NULL);
    struct metric_family *xc = mset_family(m, "jobs_count", METRIC_GAUGE, "");
    add(m, xc, SUFFIX_NONE, 9, (char *)NULL);
    struct metric_family *c = mset_family(m, "reqs_total", METRIC_COUNTER, "");
    add(m, c, SUFFIX_NONE, 100, "code", "200", (char *)NULL);
    snap = snapshot_new(&m, 1, 1);
    mset_unref(m);
}

struct got {
    char text[2048];
    size_t n;
};

static void collect(void *arg, const struct metric_family *f, const struct metric_sample *m)
{
    struct got *g = arg;
    size_t l = strlen(g->text);
    snprintf(g->text + l, sizeof(g->text) - l, "%s%s%s{%.*s}=%g", g->n ? " " : "", f->name,
             metric_suffix_text((enum metric_suffix)m->suffix), (int)m->labels_len, m->labels,
             m->value);
    g->n++;
}

/* Selects name with matchers given as label, op ("=", "!=", "=~", "!~"), value, ..., NULL;
 * returns the samples as name{labels}=value, space-separated, in snapshot order. */
static const char *sel(const char *name, ...)
{
    static struct got g;
    memset(&g, 0, sizeof(g));
    struct selector s = {.name = xstrdup(name)};
    va_list ap;
    va_start(ap, name);
    for (const char *label; (label = va_arg(ap, const char *));) {
        const char *op = va_arg(ap, const char *), *value = va_arg(ap, const char *);
        enum match_op o = strcmp(op, "=") == 0    ? MATCH_EQ
                          : strcmp(op, "!=") == 0 ? MATCH_NEQ
                          : strcmp(op, "=~") == 0 ? MATCH_RE
                                                  : MATCH_NRE;
        char err[256];
        if (selector_add(&s, label, o, value, err, sizeof(err)) < 0) {
            snprintf(g.text, sizeof(g.text), "ERROR: %s", err);
            va_end(ap);
            selector_free(&s);
            return g.text;
        }
    }
    va_end(ap);
    snapshot_select(snap, &s, collect, &g);
    selector_free(&s);
    return g.text;
}

static void test_matchers(void)
{
    is_str(sel("up", END),
           "up{instance=\"x\",job=\"a\"}=1 up{env=\"prod\",instance=\"y\",job=\"a\"}=2 "
           "up{job=\"b\"}=3 up{job=\"ab\"}=4 up{}=5",
           "no matchers: every series of the family");
    is_str(sel("up", "job", "=", "a", END),
           "up{instance=\"x\",job=\"a\"}=1 up{env=\"prod\",instance=\"y\",job=\"a\"}=2", "=");
    is_str(sel("up", "job", "!=", "a", END), "up{job=\"b\"}=3 up{job=\"ab\"}=4 up{}=5",
           "!= (a series without the label has \"\", which is not \"a\")");
    is_str(sel("up", "job", "=~", "a", END),
           "up{instance=\"x\",job=\"a\"}=1 up{env=\"prod\",instance=\"y\",job=\"a\"}=2",
           "=~ is anchored: \"a\" does not match \"ab\"");
    is_str(sel("up", "job", "=~", "a|b", END),
           "up{instance=\"x\",job=\"a\"}=1 up{env=\"prod\",instance=\"y\",job=\"a\"}=2 "
           "up{job=\"b\"}=3",
           "=~ alternatives are anchored as a whole (^(a|b)$)");
    is_str(sel("up", "job", "=~", "a.*", END),
           "up{instance=\"x\",job=\"a\"}=1 up{env=\"prod\",instance=\"y\",job=\"a\"}=2 "
           "up{job=\"ab\"}=4",
           "=~ a.*");
    is_str(sel("up", "job", "!~", "a.*", END), "up{job=\"b\"}=3 up{}=5", "!~ a.*");
    is_str(sel("up", "env", "=", "", END),
           "up{instance=\"x\",job=\"a\"}=1 up{job=\"b\"}=3 up{job=\"ab\"}=4 up{}=5",
           "env=\"\": the series without env");
    is_str(sel("up", "env", "!=", "", END), "up{env=\"prod\",instance=\"y\",job=\"a\"}=2",
           "env!=\"\": the series with env");
    is_str(sel("up", "env", "=~", ".+", END), "up{env=\"prod\",instance=\"y\",job=\"a\"}=2",
           "env=~\".+\": a missing label is \"\"");
    is_str(sel("up", "env", "=~", ".*", "job", "!=", "", END),
           "up{instance=\"x\",job=\"a\"}=1 up{env=\"prod\",instance=\"y\",job=\"a\"}=2 "
           "up{job=\"b\"}=3 up{job=\"ab\"}=4",
           "matchers combine with and");
    is_str(sel("up", "job", "=", "a", "instance", "=~", "y|z", END),
           "up{env=\"prod\",instance=\"y\",job=\"a\"}=2", "two matchers");
    is_str(sel("up", "nope", "=", "x", END), "", "a label no series has: nothing");
    is_str(sel("up", "job", "=~", "", END), "up{}=5", "=~\"\" matches only the empty value");
    is_str(sel("nothing", END), "", "an unknown family: nothing");
    is_str(sel("up", "job", "=", "a\"", END), "", "a quote in a value is not a wildcard");
}

static void test_escapes(void)
{
    is_str(sel("esc", "v", "=", "say \"hi\"", END), "esc{v=\"say \\\"hi\\\"\"}=1",
           "= with a quote (compared unescaped)");
    is_str(sel("esc", "v", "=", "C:\\path\\x", END), "esc{v=\"C:\\\\path\\\\x\"}=2",
           "= with backslashes");
    is_str(sel("esc", "v", "=", "a\nb", END), "esc{v=\"a\\nb\"}=3", "= with a newline");
    is_str(sel("esc", "v", "=", "a\\nb", END), "", "a backslash-n is not a newline");
    is_str(sel("esc", "v", "=~", "say \"h.\"", END), "esc{v=\"say \\\"hi\\\"\"}=1",
           "=~ sees the unescaped value (quotes)");
    is_str(sel("esc", "v", "=~", "C:\\\\path\\\\.*", END), "esc{v=\"C:\\\\path\\\\x\"}=2",
           "=~ with escaped backslashes");
    is_str(sel("esc", "v", "=~", "C:[\\\\]path.*", END), "esc{v=\"C:\\\\path\\\\x\"}=2",
           "=~ [\\\\] is a backslash (RE2), not an escape");
    is_str(sel("esc", "v", "=~", "a\\nb", END), "esc{v=\"a\\nb\"}=3", "=~ \\n is a newline");
    is_str(sel("esc", "v", "=~", "a.b", END), "esc{v=\"a.b\"}=6",
           "=~ . does not match a newline (Prometheus 2.x)");
    is_str(sel("esc", "v", "=~", "a[^x]b", END), "esc{v=\"a\\nb\"}=3 esc{v=\"a.b\"}=6",
           "=~ a negated class does");
    is_str(sel("esc", "v", "=~", "a\\.b", END), "esc{v=\"a.b\"}=6", "=~ \\. is a dot");
    is_str(sel("esc", "v", "=~", "tab\\there", END), "esc{v=\"tab\there\"}=8", "=~ \\t is a tab");
}

static void test_re2(void)
{
    is_str(sel("esc", "v", "=~", "5\\d\\d", END), "esc{v=\"503\"}=4",
           "\\d is a digit (POSIX alone would read it as d)");
    is_str(sel("esc", "v", "=~", "5[\\d]+", END), "esc{v=\"503\"}=4", "[\\d] too");
    is_str(sel("esc", "v", "=~", "\\D+", END),
           "esc{v=\"say \\\"hi\\\"\"}=1 esc{v=\"C:\\\\path\\\\x\"}=2 esc{v=\"a\\nb\"}=3 "
           "esc{v=\"a.b\"}=6 esc{v=\"tab\there\"}=8 esc{v=\"x{y\"}=9",
           "\\D+: the values without a digit");
    is_str(sel("esc", "v", "=~", "\\w+-\\w", END), "esc{v=\"A_b-9\"}=7", "\\w");
    is_str(sel("esc", "v", "=~", "[\\w-]+", END),
           "esc{v=\"503\"}=4 esc{v=\"5dd\"}=5 "
           "esc{v=\"A_b-9\"}=7",
           "[\\w-]");
    is_str(sel("esc", "v", "=~", "say\\s\\S+", END), "esc{v=\"say \\\"hi\\\"\"}=1", "\\s \\S");
    is_str(sel("esc", "v", "=~", "(?:50|5d)[3d]", END), "esc{v=\"503\"}=4 esc{v=\"5dd\"}=5",
           "(?:...) groups");
    is_str(sel("esc", "v", "=~", "[[:digit:]]+", END), "esc{v=\"503\"}=4", "[[:digit:]]");
    is_str(sel("esc", "v", "=~", "[]a]\\.b", END), "esc{v=\"a.b\"}=6", "] first in a bracket");
    is_str(sel("esc", "v", "=~", "a{1}\\.b", END), "esc{v=\"a.b\"}=6", "a repetition");
    is_str(sel("esc", "v", "=~", "x{y", END), "esc{v=\"x{y\"}=9", "a { that is no repetition");
    is_str(sel("esc", "v", "=~", "x\\{y", END), "esc{v=\"x{y\"}=9", "\\{");
    is_str(sel("esc", "v", "=~", "5.{2}", END), "esc{v=\"503\"}=4 esc{v=\"5dd\"}=5", "{2}");
    is_str(sel("esc", "v", "=~", "5[0-9d]{1,}", END), "esc{v=\"503\"}=4 esc{v=\"5dd\"}=5", "{1,}");
    is_str(sel("esc", "v", "=~", "5.*?", END), "esc{v=\"503\"}=4 esc{v=\"5dd\"}=5",
           "a lazy *? matches as * (full matches are the same)");
    is_str(sel("esc", "v", "=~", "(?:(?:(?:(?:(?:(?:(?:(?:(?:(?:5+)+)+)+)+)+)+)+)+)+)d+d", END),
           "esc{v=\"5dd\"}=5", "ten nested + are fine");
    /* Refused, with the reason. */
    static const char *const bad[] = {"(?i)abc",
                                      "a)|(b",
                                      "(a",
                                      "[a",
                                      "\\pL",
                                      "\\x41",
                                      "\\Aa",
                                      "a\\z",
                                      "a\\",
                                      "[a\\-z]",
                                      "(?P<x>a)",
                                      "a\\1",
                                      "a++",
                                      "a**",
                                      "a*+",
                                      "*a",
                                      "a|*b",
                                      "^*",
                                      "a{1001}",
                                      "a{2}{3}",
                                      "(a{1000}){1000}",
                                      "((a{100}){100}){100}",
                                      "((((((((((((((((a+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        const char *r = sel("esc", "v", "=~", bad[i], END);
        ok(strncmp(r, "ERROR: bad regex", 16) == 0, "=~\"%s\" is refused: %s", bad[i], r);
    }
    ok(strstr(sel("esc", "v", "=~", "a)|(b", END), "unexpected )") != NULL,
       "a ) that would break out of ^(...)$ says so");
    ok(strncmp(sel("esc", "bad-name", "=", "x", END), "ERROR: invalid label name", 25) == 0,
       "an invalid label name is refused");
    ok(strncmp(sel("esc", "v", "!~", "[z-a]", END), "ERROR: bad regex", 16) == 0,
       "a regex that does not compile is refused");
    ok(strstr(sel("esc", "v", "=~", "(a{1000}){1000}", END), "too large") != NULL,
       "a regex glibc would expand into gigabytes says so");
    /* Regression (fuzz_template): 40 nested + took regcomp past 2 GB. */
    char *fuzz = xasprintf("\\WV1%s{{ $value }}", "++++++++++++++++++++++++++++++++++++++++");
    ok(strncmp(sel("esc", "v", "=~", fuzz, END), "ERROR: bad regex", 16) == 0,
       "a run of + is refused before regcomp sees it");
    free(fuzz);
}

static void test_histograms(void)
{
    is_str(sel("lat_seconds", END), "", "a histogram's own name has no samples");
    is_str(sel("lat_seconds_bucket", "site", "=", "gold", END),
           "lat_seconds_bucket{le=\"0.1\",site=\"gold\"}=11 "
           "lat_seconds_bucket{le=\"1\",site=\"gold\"}=12 "
           "lat_seconds_bucket{le=\"+Inf\",site=\"gold\"}=13",
           "_bucket: the buckets");
    is_str(sel("lat_seconds_bucket", "le", "=", "+Inf", END),
           "lat_seconds_bucket{le=\"+Inf\",site=\"golddr\"}=3 "
           "lat_seconds_bucket{le=\"+Inf\",site=\"gold\"}=13",
           "_bucket{le=\"+Inf\"}");
    is_str(sel("lat_seconds_sum", END),
           "lat_seconds_sum{site=\"golddr\"}=0.5 lat_seconds_sum{site=\"gold\"}=1.5", "_sum");
    is_str(sel("lat_seconds_count", "site", "=~", "gold", END),
           "lat_seconds_count{site=\"gold\"}=13", "_count");
    is_str(sel("rpc_seconds", END),
           "rpc_seconds{quantile=\"0.5\"}=0.01 rpc_seconds{quantile=\"0.9\"}=0.09",
           "a summary's own name: its quantiles");
    is_str(sel("rpc_seconds", "quantile", "=", "0.9", END), "rpc_seconds{quantile=\"0.9\"}=0.09",
           "one quantile");
    is_str(sel("rpc_seconds_sum", END), "rpc_seconds_sum{}=7", "summary _sum");
    is_str(sel("rpc_seconds_count", END), "rpc_seconds_count{}=70", "summary _count");
    is_str(sel("rpc_seconds_bucket", END), "", "a summary has no buckets");
    is_str(sel("weird_bucket", END), "weird_bucket{}=42", "a family named *_bucket is itself");
    is_str(sel("jobs_count", END), "jobs_count{}=9", "a gauge named *_count is itself");
    is_str(sel("up_count", END), "", "a gauge has no _count");
    is_str(sel("reqs_total", END), "reqs_total{code=\"200\"}=100", "counters by their _total name");
    is_str(sel("reqs", END), "", "not without _total");
    is_str(sel("_bucket", END), "", "a bare suffix");
}

static void test_text_and_labels(void)
{
    struct selector s = {.name = xstrdup("up")};
    char err[256];
    must(selector_add(&s, "job", MATCH_EQ, "a\"b\\c\nd", err, sizeof(err)));
    must(selector_add(&s, "path", MATCH_RE, "C:\\\\.*", err, sizeof(err)));
    must(selector_add(&s, "x", MATCH_NEQ, "", err, sizeof(err)));
    must(selector_add(&s, "y", MATCH_NRE, "5\\d\\d", err, sizeof(err)));
    is_int(selector_add(&s, "z", MATCH_RE, "(", err, sizeof(err)), -1, "a bad regex: -1");
    is_int(s.n, 4, "and the selector is unchanged");
    char *t = selector_text(&s);
    is_str(t, "up{job=\"a\\\"b\\\\c\\nd\",path=~\"C:\\\\\\\\.*\",x!=\"\",y!~\"5\\\\d\\\\d\"}",
           "selector_text escapes values as PromQL strings, in the order given");
    free(t);
    const char *l1 = "job=\"a\\\"b\\\\c\\nd\",path=\"C:\\\\x\",x=\"1\"";
    const char *l2 = "job=\"a\\\"b\\\\c\\nd\",path=\"C:\\\\x\",x=\"1\",y=\"500\"";
    ok(selector_match_labels(&s, l1, strlen(l1)), "selector_match_labels on canonical text");
    ok(!selector_match_labels(&s, l2, strlen(l2)), "y=500 fails !~5\\d\\d");
    selector_free(&s);
    ok(s.n == 0 && s.m == NULL && s.name == NULL, "selector_free leaves it empty");
    struct selector e = {.name = xstrdup("up")};
    t = selector_text(&e);
    is_str(t, "up{}", "no matchers: name{}");
    free(t);
    selector_free(&e);

    const char *l = "a=\"1\",ab=\"x\\\"y\",b=\"\",c=\"p\\\\q\\nr\"";
    size_t n = strlen(l);
    struct buf b;
    buf_init(&b, CAP_LABELS_TEXT);
    ok(labels_get(l, n, "a", &b) && strcmp(b.data, "1") == 0, "labels_get a");
    ok(labels_get(l, n, "ab", &b) && strcmp(b.data, "x\"y") == 0 && b.len == 3,
       "labels_get ab (not confused with a), unescaped");
    ok(labels_get(l, n, "c", &b) && strcmp(b.data, "p\\q\nr") == 0 && b.len == 5,
       "labels_get with a backslash and a newline");
    ok(labels_get(l, n, "b", &b) && b.len == 0, "labels_get of an empty value: present, \"\"");
    ok(!labels_get(l, n, "d", &b) && b.len == 0, "an absent label: false, out cleared");
    ok(!labels_get(l, n, "", &b), "an empty name: absent");
    ok(!labels_get("", 0, "a", &b), "no labels at all");
    ok(labels_get(l, 5, "a", &b) && !labels_get(l, 5, "ab", &b), "only len bytes are read");
    buf_free(&b);
}

/* selector_parse of text, then the parsed selector as text again ("ERROR: ..." when refused):
 * name{matchers} in the order given, __name__ matchers among them. */
static const char *parsed(const char *text)
{
    static char out[1024];
    struct selector s;
    char err[512];
    if (selector_parse(text, strlen(text), &s, err, sizeof(err)) < 0) {
        snprintf(out, sizeof(out), "ERROR: %s", err);
        return out;
    }
    char *t = selector_text(&s);
    snprintf(out, sizeof(out), "%s", t ? t : "(null)");
    free(t);
    selector_free(&s);
    return out;
}

static void test_parse(void)
{
    is_str(parsed("up"), "up{}", "a bare name");
    is_str(parsed("  up\n"), "up{}", "blanks around it");
    is_str(parsed("job:rate5m:sum"), "job:rate5m:sum{}", "a recording rule's name (colons)");
    is_str(parsed("sum"), "sum{}", "a keyword is a metric name, as in PromQL");
    is_str(parsed("up{}"), "up{}", "a name with empty braces");
    is_str(parsed("up{job=\"a\",instance!=\"b\", x=~\"c.*\" ,y!~'d'}"),
           "up{job=\"a\",instance!=\"b\",x=~\"c.*\",y!~\"d\"}", "the four operators");
    is_str(parsed("{job=\"x\",}"), "{job=\"x\"}", "a comma may end the list");
    is_str(parsed("{__name__=~\"drwatch_collector_up|up\"}"),
           "{__name__=~\"drwatch_collector_up|up\"}", "__name__ as a matcher");
    is_str(parsed("{ # a comment\n job = `a\\b\"` }"), "{job=\"a\\\\b\\\"\"}",
           "a comment, blanks around the operator, a raw string");
    is_str(parsed("{a=\"\\a\\b\\f\\n\\r\\t\\v\\\\\\\"\"}"), "{a=\"\a\b\f\\n\r\t\v\\\\\\\"\"}",
           "Go's simple escapes");
    is_str(parsed("{a='it\\'s'}"), "{a=\"it's\"}", "\\' in single quotes");
    is_str(parsed("{a=\"\\101\\x42\\u00e9\\U0001F600\"}"), "{a=\"AB\xc3\xa9\xf0\x9f\x98\x80\"}",
           "octal, hex, \\u and \\U escapes");
    is_str(parsed("{a=\"é\"}"), "{a=\"é\"}", "UTF-8 in a string");
    is_str(parsed("up{le=\"+Inf\"}"), "up{le=\"+Inf\"}", "any value");
    is_str(parsed("{a!=\"\"}"), "{a!=\"\"}", "!=\"\" refuses the empty value: enough");
    is_str(parsed("{a=~\".+\"}"), "{a=~\".+\"}", "=~\".+\" too");
    is_str(parsed("{a!~\"\"}"), "{a!~\"\"}", "and !~\"\"");
    is_str(parsed("{a=\"\",b=\"x\"}"), "{a=\"\",b=\"x\"}", "one non-empty matcher is enough");
    is_str(parsed("{__name__=\"a\",__name__=~\"b\"}"), "{__name__=\"a\",__name__=~\"b\"}",
           "two __name__ matchers without a name are fine, as in Prometheus");

    static const struct {
        const char *text, *err;
    } bad[] = {
        {"", "1:1: parse error: no selector: the input is empty"},
        {"  # only a comment", "1:19: parse error: no selector: the input is empty"},
        {"{}", "1:1: parse error: vector selector must contain label matchers or metric name"},
        {"{a=\"\"}",
         "1:1: parse error: vector selector must contain at least one non-empty matcher"},
        {"{a=~\".*\"}", "1:1: parse error: vector selector must contain at least one non-empty "
                        "matcher"},
        {"{a!~\".+\"}", "1:1: parse error: vector selector must contain at least one non-empty "
                        "matcher"},
        {"{a!=\"x\"}", "1:1: parse error: vector selector must contain at least one non-empty "
                       "matcher"},
        {"foo{__name__=\"bar\"}",
         "1:5: parse error: metric name must not be set twice: \"foo\" or \"bar\""},
        {"up{", "1:4: parse error: unexpected end of input inside braces"},
        {"up{job",
         "1:7: parse error: expected a label matching operator (=, !=, =~, !~), got the end"},
        {"up{job=", "1:8: parse error: expected a quoted string after job, got the end"},
        {"up{job=x}", "1:8: parse error: expected a quoted string after job, got 'x'"},
        {"up{job==\"x\"}", "1:8: parse error: expected a quoted string after job, got '='"},
        {"up{job=\"x}", "1:8: parse error: unterminated quoted string"},
        {"up{job=\"x\"", "1:11: parse error: unexpected end of input inside braces"},
        {"up{job=\"x\ny\"}", "1:8: parse error: unterminated quoted string"},
        {"up{job=`x}", "1:8: parse error: unterminated raw string"},
        {"up{job=\"x\" instance=\"y\"}",
         "1:12: parse error: expected \",\" or \"}\" after a matcher, got 'i'"},
        {"up{,}", "1:4: parse error: unexpected character inside braces: ','"},
        {"up{1a=\"x\"}", "1:4: parse error: unexpected character inside braces: '1'"},
        {"up{job!\"x\"}",
         "1:7: parse error: expected a label matching operator (=, !=, =~, !~), got '!'"},
        {"up{job=\"\\q\"}", "1:9: parse error: unknown escape sequence 'q'"},
        {"up{job=\"\\'\"}", "1:9: parse error: unknown escape sequence '''"},
        {"up{job=\"\\x4\"}", "1:9: parse error: illegal character '\"' in escape sequence"},
        {"up{job=\"\\ud800\"}",
         "1:9: parse error: escape sequence is an invalid Unicode code point"},
        {"up{job=\"\\777\"}", "1:9: parse error: escape sequence is an invalid Unicode code point"},
        {"up{job=\"\\x00\"}", "1:8: parse error: a NUL byte in a string is not supported"},
        {"up{job=\"\\", "1:9: parse error: escape sequence not terminated"},
        {"up{job=\"\xff\"}", "1:1: parse error: invalid UTF-8"},
        {"up{job=~\"(\"}", "1:4: parse error: bad regex \"(\" for label job: "},
        {"up[5m]", "1:3: parse error: unexpected '[' after the selector: only a series selector is "
                   "taken (no range, offset, @ or function)"},
        {"up offset 5m", "1:4: parse error: unexpected 'o' after the selector"},
        {"rate(up[5m])", "1:5: parse error: unexpected '(' after the selector"},
        {"up{a=\"b\"} {c=\"d\"}", "1:11: parse error: unexpected '{' after the selector"},
        {"up,down", "1:3: parse error: unexpected ',' after the selector"},
        {"1up", "1:1: parse error: unexpected character '1': a selector is a metric name, "
                "{matchers} or both"},
        {"-up", "1:1: parse error: unexpected character '-'"},
        {"Inf", "1:1: parse error: unexpected number \"Inf\""},
        {"nan", "1:1: parse error: unexpected number \"nan\""},
        {"up{\n  a=\"b\",\n  c=}", "3:5: parse error: expected a quoted string after c, got '}'"},
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        const char *r = parsed(bad[i].text);
        size_t n = strlen(bad[i].err);
        if (!ok(strncmp(r, "ERROR: ", 7) == 0 && strncmp(r + 7, bad[i].err, n) == 0, "refused: %s",
                bad[i].text))
            diag("  got:  %s\n#   want: %s...", r, bad[i].err);
    }
    is_str(parsed("infinity"), "infinity{}", "a name that starts like Inf is a name");
    /* A NUL inside the text (its length says where it ends), not in a string. */
    struct selector s;
    char err[256];
    ok(selector_parse("up\0x", 4, &s, err, sizeof(err)) < 0 && s.n == 0 && s.name == NULL,
       "a NUL after the name is refused, and *out is left empty: %s", err);
}

/* selector_parse, then whether it selects the series name{labels}. */
static bool selects(const char *text, const char *name, const char *labels)
{
    struct selector s;
    char err[256];
    if (selector_parse(text, strlen(text), &s, err, sizeof(err)) < 0) {
        diag("%s: %s", text, err);
        return false;
    }
    bool hit = selector_match_name(&s, name, strlen(name)) &&
               selector_match_series_labels(&s, labels, strlen(labels));
    selector_free(&s);
    return hit;
}

static void test_match_series(void)
{
    ok(selects("up", "up", "job=\"a\""), "a name selects its series");
    ok(!selects("up", "upx", ""), "and no other name");
    ok(!selects("up", "u", ""), "nor a prefix of it");
    ok(selects("{__name__=\"up\"}", "up", ""), "__name__= compares the series name");
    ok(selects("{__name__=~\"lat_.*_bucket\",le=\"1\"}", "lat_seconds_bucket",
               "le=\"1\",site=\"gold\""),
       "__name__=~ on a suffixed name, with a label matcher");
    ok(!selects("{__name__=~\"lat_.*_bucket\",le=\"1\"}", "lat_seconds_bucket", "le=\"2\""),
       "the label matcher still applies");
    ok(!selects("{__name__=~\"lat_.*_bucket\"}", "lat_seconds_sum", ""), "an anchored name regex");
    ok(selects("{__name__!=\"up\",job=\"a\"}", "down", "job=\"a\""), "__name__!=");
    ok(!selects("{__name__!=\"up\",job=\"a\"}", "up", "job=\"a\""), "__name__!= refuses its name");
    ok(selects("{__name__!~\"up|down\",job!=\"\"}", "other", "job=\"b\""), "__name__!~");
    ok(selects("{job=\"a\"}", "anything", "job=\"a\",x=\"1\""), "no name: any name");
    ok(!selects("{job=\"a\"}", "anything", "x=\"1\""), "a missing label is \"\"");
    ok(selects("{job=\"a\\\"b\"}", "x", "job=\"a\\\"b\""), "escaped values compare unescaped");
    ok(selects("{job=~\"a\\\\\\\\.*\"}", "x", "job=\"a\\\\b\""),
       "and regexes see them unescaped (a\\\\.* is a, a backslash, anything)");
    ok(!selects("{job=~\"a\\\\.*\"}", "x", "job=\"a\\\\b\""), "a\\.* is a, then dots");
}

int main(void)
{
    build_snapshot();
    test_parse();
    test_match_series();
    test_matchers();
    test_escapes();
    test_re2();
    test_histograms();
    test_text_and_labels();
    snapshot_unref(snap);
    return done_testing();
}
