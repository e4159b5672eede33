/* test_registry.c: metric sets (families, canonical label text, duplicates, label checks,
 * growth, reference counts) and snapshots (merging sets, conflicts, series counts). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "caps.h"
#include "registry.h"
#include "tap.h"
#include "textparse.h"
#include "xalloc.h"

/* The canonical label text of sample i of f, NUL-terminated (static storage). */
static const char *labels_of(const struct metric_family *f, size_t i)
{
    static char text[4096];
    if (i >= f->nsamples) return "(no such sample)";
    snprintf(text, sizeof(text), "%.*s", (int)f->samples[i].labels_len, f->samples[i].labels);
    return text;
}

static void test_families(void)
{
    struct metric_set *s = mset_new();
    struct metric_family *a = mset_family(s, "demo_up", METRIC_GAUGE, "First help.");
    ok(a != NULL, "family created");
    ok(mset_family(s, "demo_up", METRIC_GAUGE, "Other help.") == a,
       "get-or-create returns the same family");
    is_str(a->help, "First help.", "the first help is kept");
    ok(mset_family(s, "demo_up", METRIC_COUNTER, NULL) == NULL,
       "the same name with another type is refused (NULL)");
    ok(mset_family(s, "demo_up", METRIC_GAUGE, NULL) == a, "the original type still works");
    struct metric_family *h = mset_family(s, "demo_latency_seconds", METRIC_HISTOGRAM, NULL);
    is_str(h->help, "", "NULL help is stored as \"\"");
    ok(h->unit == NULL, "no unit until one is set");
    mset_family_set_unit(s, h, "seconds");
    is_str(h->unit, "seconds", "unit set");
    mset_family_set_unit(s, h, NULL);
    ok(h->unit == NULL, "unit cleared with NULL");
    is_int(mset_family_count(s), 2, "two families");
    ok(mset_family_at(s, 0) == a && mset_family_at(s, 1) == h, "families in creation order");
    ok(mset_family_at(s, 2) == NULL, "mset_family_at past the end is NULL");
    ok(mset_family_find(s, "demo_up", 7) == a, "find by name");
    ok(mset_family_find(s, "demo_upx", 7) == a, "find uses only name_len bytes");
    ok(mset_family_find(s, "demo_u", 6) == NULL, "a prefix of a name is not that name");
    ok(mset_family_find(s, "nothing", 7) == NULL, "unknown name: NULL");
    ok(mset_family(s, "1bad", METRIC_GAUGE, NULL) == NULL, "invalid metric name refused");
    ok(mset_family(s, "bad-name", METRIC_GAUGE, NULL) == NULL, "dash in a name refused");
    ok(mset_family(s, "", METRIC_GAUGE, NULL) == NULL, "empty name refused");
    ok(mset_family(s, "job:rate5m", METRIC_GAUGE, NULL) != NULL, "colons are valid");
    is_int(mset_family_count(s), 3, "refused names created nothing");
    mset_unref(s);

    struct metric_set *e = mset_new();
    ok(mset_family_find(e, "x", 1) == NULL, "find in an empty set");
    is_int(mset_sample_count(e), 0, "empty set has no samples");
    mset_unref(e);
}

static void test_canonical(void)
{
    struct metric_set *s = mset_new();
    struct metric_family *f = mset_family(s, "demo_value", METRIC_GAUGE, "x");
    is_int(mset_addv(s, f, 1, "zone", "b", "app", "x", "mid", "m", NULL), 0, "addv");
    is_str(labels_of(f, 0), "app=\"x\",mid=\"m\",zone=\"b\"", "labels sorted by name");
    is_int(mset_addv(s, f, 2, "path", "C:\\logs", "msg", "said \"hi\"\nbye", NULL), 0,
           "addv with characters to escape");
    is_str(labels_of(f, 1), "msg=\"said \\\"hi\\\"\\nbye\",path=\"C:\\\\logs\"",
           "backslash, double quote and newline escaped");
    is_int(mset_addv(s, f, 3, NULL), 0, "no labels");
    is_str(labels_of(f, 2), "", "no labels: empty text");
    ok(f->samples[2].labels != NULL, "empty label text is \"\", not NULL");
    is_int(mset_addv(s, f, 4, "a", "1", "a_b", "2", "A", "3", "_x", "4", NULL), 0,
           "names that sort by bytes");
    is_str(labels_of(f, 3), "A=\"3\",_x=\"4\",a=\"1\",a_b=\"2\"", "byte order: A < _ < a < a_b");
    is_int(mset_addv(s, f, 5, "k", "\xc3\xa9t\xc3\xa9", NULL), 0, "UTF-8 value");
    is_str(labels_of(f, 4), "k=\"\xc3\xa9t\xc3\xa9\"", "UTF-8 kept as is");
    is_int(f->samples[0].suffix, SUFFIX_NONE, "suffix none");
    ok(f->samples[0].value == 1 && f->samples[4].value == 5, "values kept");

    /* Prometheus drops labels with an empty value, so they are not part of the series. */
    is_int(mset_addv(s, f, 6, "k", "v", "empty", "", NULL), 0, "empty value");
    is_str(labels_of(f, 5), "k=\"v\"", "a label with an empty value is left out");
    is_int(mset_addv(s, f, 7, "k", "v", "none", NULL, NULL), -EEXIST,
           "NULL value is empty too: same series as k=\"v\"");

    struct label_pair many[20];
    char names[20][16], values[20][16];
    for (int i = 0; i < 20; i++) {
        snprintf(names[i], sizeof(names[i]), "l%02d", 19 - i);
        snprintf(values[i], sizeof(values[i]), "%d", i);
        many[i] = (struct label_pair){names[i], values[i]};
    }
    is_int(mset_add(s, f, SUFFIX_NONE, many, 20, 8), 0, "20 labels (more than the stack array)");
    const char *t = labels_of(f, 6);
    ok(strncmp(t, "l00=\"19\",l01=\"18\",", 18) == 0 && strstr(t, "l19=\"0\"") != NULL,
       "20 labels sorted: %s", t);
    mset_unref(s);

    struct buf b;
    buf_init(&b, CAP_LABELS_TEXT);
    label_value_escape(&b, "a\\b\"c\nd", 7);
    is_str(b.data, "a\\\\b\\\"c\\nd", "label_value_escape");
    buf_reset(&b);
    label_value_escape(&b, "plain", 5);
    is_str(b.data, "plain", "label_value_escape without anything to escape");
    buf_free(&b);
}

static void test_duplicates(void)
{
    struct metric_set *s = mset_new();
    struct metric_family *f = mset_family(s, "demo_requests_total", METRIC_COUNTER, "x");
    struct metric_family *g = mset_family(s, "demo_other", METRIC_GAUGE, "x");
    is_int(mset_addv(s, f, 1, "code", "200", "method", "GET", NULL), 0, "first series");
    is_int(mset_addv(s, f, 2, "code", "200", "method", "GET", NULL), -EEXIST,
           "same series again: -EEXIST");
    is_int(mset_addv(s, f, 3, "method", "GET", "code", "200", NULL), -EEXIST,
           "same labels in another order: -EEXIST");
    ok(f->nsamples == 1 && f->samples[0].value == 1, "the set keeps the first value");
    is_int(mset_addv(s, f, 4, "code", "500", "method", "GET", NULL), 0, "another value: new");
    is_int(mset_addv(s, g, 5, "code", "200", "method", "GET", NULL), 0,
           "same labels in another family: new");
    is_int(mset_addv(s, f, 6, NULL), 0, "no labels");
    is_int(mset_addv(s, f, 7, NULL), -EEXIST, "no labels twice: -EEXIST");
    /* Regression: x{a=""} and x are one series in Prometheus; both were exposed. */
    is_int(mset_addv(s, f, 8, "a", "", NULL), -EEXIST, "x{a=\"\"} duplicates x");
    is_int(mset_sample_count(s), 4, "four series");

    struct metric_family *h = mset_family(s, "demo_latency_seconds", METRIC_HISTOGRAM, "x");
    struct label_pair le[2] = {{"path", "/"}, {"le", "1"}};
    struct label_pair path[1] = {{"path", "/"}};
    is_int(mset_add(s, h, SUFFIX_BUCKET, le, 2, 1), 0, "bucket");
    is_int(mset_add(s, h, SUFFIX_SUM, path, 1, 2), 0, "_sum");
    is_int(mset_add(s, h, SUFFIX_COUNT, path, 1, 3), 0, "_count: same labels, other suffix");
    is_int(mset_add(s, h, SUFFIX_COUNT, path, 1, 4), -EEXIST, "_count twice: -EEXIST");
    is_int(h->samples[2].suffix, SUFFIX_COUNT, "suffix stored");
    mset_unref(s);
}

static void test_refused(void)
{
    struct metric_set *s = mset_new();
    struct metric_set *other = mset_new();
    struct metric_family *f = mset_family(s, "demo_value", METRIC_GAUGE, "x");
    struct metric_family *of = mset_family(other, "demo_value", METRIC_GAUGE, "x");
    is_int(mset_addv(s, f, 1, "1a", "x", NULL), -EINVAL, "label name starting with a digit");
    is_int(mset_addv(s, f, 1, "a-b", "x", NULL), -EINVAL, "label name with a dash");
    is_int(mset_addv(s, f, 1, "", "x", NULL), -EINVAL, "empty label name");
    is_int(mset_addv(s, f, 1, "a:b", "x", NULL), -EINVAL, "colon in a label name");
    is_int(mset_addv(s, f, 1, "__name__", "x", NULL), -EINVAL, "__name__ is reserved");
    is_int(mset_addv(s, f, 1, "__meta", "x", NULL), -EINVAL, "__ prefix is reserved");
    is_int(mset_addv(s, f, 1, "ok", "x", "bad name", "y", NULL), -EINVAL,
           "one bad name among good ones");
    is_int(mset_addv(s, f, 1, "a", "1", "a", "2", NULL), -EINVAL, "the same label name twice");
    is_int(mset_add(s, f, SUFFIX_BUCKET, NULL, 0, 1), -EINVAL, "_bucket on a gauge");
    is_int(mset_add(s, f, SUFFIX_SUM, NULL, 0, 1), -EINVAL, "_sum on a gauge");
    struct metric_family *h = mset_family(s, "demo_h", METRIC_HISTOGRAM, "x");
    struct metric_family *q = mset_family(s, "demo_q", METRIC_SUMMARY, "x");
    is_int(mset_add(s, h, SUFFIX_NONE, NULL, 0, 1), -EINVAL, "a histogram needs a suffix");
    is_int(mset_add(s, q, SUFFIX_BUCKET, NULL, 0, 1), -EINVAL, "no _bucket on a summary");
    is_int(mset_add(s, q, SUFFIX_COUNT, NULL, 0, 1), 0, "_count on a summary");
    is_int(mset_addv(other, of, 1, NULL), 0, "family of the other set in its own set");
    is_int(mset_addv(s, of, 1, "x", "y", NULL), -EINVAL, "a family of another set is refused");
    is_int(mset_addv(s, NULL, 1, NULL), -EINVAL, "NULL family (a refused mset_family)");
    is_int(mset_addv(s, f, 1, "a", "1", "b", "2", "c", "3", "d", "4", "e", "5", "f", "6", "g", "7",
                     "h", "8", "i", "9", "j", "10", "k", "11", "l", "12", "m", "13", "n", "14", "o",
                     "15", "p", "16", "q", "17", NULL),
           -E2BIG, "mset_addv takes at most 16 labels");
    is_int(mset_sample_count(s), 1, "nothing refused was added");
    ok(f->nsamples == 0, "the gauge has no samples");
    mset_unref(s);
    mset_unref(other);
}

/* tp_sample built by hand, as the parser would report it: values still escaped. */
static void test_parsed(void)
{
    struct metric_set *s = mset_new();
    struct metric_family *f = mset_family(s, "kong_http_requests_total", METRIC_COUNTER, "x");
    struct tp_label pl[3] = {
        {"service", 7, "a\\\"b", 4}, {"code", 4, "200", 3}, {"site", 4, "parsed", 6}};
    struct tp_sample ps = {.name = "kong_http_requests_total",
                           .name_len = 24,
                           .family_len = 24,
                           .suffix = SUFFIX_NONE,
                           .family_type = METRIC_COUNTER,
                           .labels = pl,
                           .nlabels = 3,
                           .value = 42};
    is_int(mset_add_parsed(s, f, &ps, NULL, 0), 0, "parsed sample");
    is_str(labels_of(f, 0), "code=\"200\",service=\"a\\\"b\",site=\"parsed\"",
           "parsed values are copied as escaped, not escaped again");
    ok(f->samples[0].value == 42, "value");
    struct label_pair extra[2] = {{"site", "gold\"dr"}, {"region", "eu"}};
    pl[1].value = "201";
    is_int(mset_add_parsed(s, f, &ps, extra, 2), 0, "parsed sample with extra labels");
    is_str(labels_of(f, 1), "code=\"201\",region=\"eu\",service=\"a\\\"b\",site=\"gold\\\"dr\"",
           "an extra label replaces the parsed one of the same name, and is escaped");
    is_int(mset_add_parsed(s, f, &ps, extra, 2), -EEXIST, "the same again: -EEXIST");
    struct label_pair blank[1] = {{"site", ""}};
    pl[1].value = "202";
    is_int(mset_add_parsed(s, f, &ps, blank, 1), 0, "extra label with an empty value");
    is_str(labels_of(f, 2), "code=\"202\",service=\"a\\\"b\"",
           "an empty extra value removes the parsed label");
    struct label_pair null_value[1] = {{"zone", NULL}};
    pl[1].value = "203";
    is_int(mset_add_parsed(s, f, &ps, null_value, 1), 0, "extra label with a NULL value");
    struct label_pair bad[1] = {{"bad-name", "x"}};
    is_int(mset_add_parsed(s, f, &ps, bad, 1), -EINVAL, "extra label with a bad name");
    struct label_pair twice[2] = {{"zone", "a"}, {"zone", "b"}};
    is_int(mset_add_parsed(s, f, &ps, twice, 2), -EINVAL, "the same extra label twice");
    /* Parsed label names are the parser's to check (test_textparse), not checked again. */

    /* More than 32 labels: the heap path. */
    struct tp_label big[40];
    char names[40][16];
    for (int i = 0; i < 40; i++) {
        snprintf(names[i], sizeof(names[i]), "n%02d", 39 - i);
        big[i] = (struct tp_label){names[i], 3, "v", 1};
    }
    struct tp_sample pbig = ps;
    pbig.labels = big;
    pbig.nlabels = 40;
    is_int(mset_add_parsed(s, f, &pbig, extra, 2), 0, "40 parsed labels and 2 extra");
    const char *t = labels_of(f, 4);
    ok(strncmp(t, "n00=\"v\",n01=\"v\"", 15) == 0 && strstr(t, "site=\"gold\\\"dr\"") != NULL,
       "42 labels sorted");

    struct metric_family *h = mset_family(s, "demo_seconds", METRIC_HISTOGRAM, "x");
    struct tp_label le[1] = {{"le", 2, "+Inf", 4}};
    struct tp_sample pbk = {.name = "demo_seconds_bucket",
                            .name_len = 19,
                            .family_len = 12,
                            .suffix = SUFFIX_BUCKET,
                            .family_type = METRIC_HISTOGRAM,
                            .labels = le,
                            .nlabels = 1,
                            .value = 3};
    is_int(mset_add_parsed(s, h, &pbk, NULL, 0), 0, "parsed bucket");
    is_int(h->samples[0].suffix, SUFFIX_BUCKET, "parsed suffix kept");
    pbk.suffix = SUFFIX_NONE;
    is_int(mset_add_parsed(s, h, &pbk, NULL, 0), -EINVAL, "a histogram sample without suffix");
    mset_unref(s);
}

/* The textfile collector's path: the real parser feeding a set. */
struct parse_ctx {
    struct metric_set *set;
    const struct label_pair *extra;
    size_t nextra;
    int added, dup, other;
};

static int on_sample(void *arg, const struct tp_sample *ps)
{
    struct parse_ctx *c = arg;
    char name[128];
    snprintf(name, sizeof(name), "%.*s", (int)ps->family_len, ps->name);
    struct metric_family *f = mset_family(c->set, name, ps->family_type, "parsed");
    int rc = mset_add_parsed(c->set, f, ps, c->extra, c->nextra);
    if (rc == 0)
        c->added++;
    else if (rc == -EEXIST)
        c->dup++;
    else
        c->other++;
    return 0;
}

static void test_textparse(void)
{
    static const char body[] = "# TYPE req_seconds histogram\n"
                               "req_seconds_bucket{path=\"/a\\\\b\",le=\"0.5\"} 1\n"
                               "req_seconds_bucket{le=\"+Inf\",path=\"/a\\\\b\"} 2\n"
                               "req_seconds_sum{path=\"/a\\\\b\"} 0.75\n"
                               "req_seconds_count{path=\"/a\\\\b\"} 2\n"
                               "# TYPE msg gauge\n"
                               "msg{text=\"say \\\"hi\\\"\\nbye\",site=\"from-file\"} 1\n"
                               "msg{site=\"from-file\",text=\"say \\\"hi\\\"\\nbye\"} 2\n"
                               "msg{text=\"\"} 3\n"
                               "msg 4\n";
    struct label_pair extra[1] = {{"site", "gold"}};
    struct parse_ctx c = {.set = mset_new(), .extra = extra, .nextra = 1};
    struct textparse_handler h = {.sample = on_sample};
    struct textparse_error err;
    is_int(textparse_run(body, sizeof(body) - 1, &h, &c, NULL, &err, NULL), 0, "textparse_run: %s",
           err.msg);
    is_int(c.added, 6, "six series added");
    is_int(c.dup, 2, "two duplicates: label order with site replaced, msg{text=\"\"} vs msg");
    is_int(c.other, 0, "nothing else refused");
    struct metric_family *f = mset_family_find(c.set, "req_seconds", 11);
    ok(f && f->nsamples == 4, "histogram with 4 samples");
    if (f && f->nsamples == 4) {
        is_str(labels_of(f, 0), "le=\"0.5\",path=\"/a\\\\b\",site=\"gold\"",
               "bucket labels sorted, escaped text kept");
        is_str(labels_of(f, 1), "le=\"+Inf\",path=\"/a\\\\b\",site=\"gold\"", "+Inf bucket");
        ok(f->samples[0].suffix == SUFFIX_BUCKET && f->samples[2].suffix == SUFFIX_SUM &&
               f->samples[3].suffix == SUFFIX_COUNT,
           "suffixes from the parser");
        ok(f->samples[2].value == 0.75, "sum value");
    }
    struct metric_family *m = mset_family_find(c.set, "msg", 3);
    ok(m && m->nsamples == 2, "msg: two series, the others were duplicates");
    if (m && m->nsamples == 2) {
        is_str(labels_of(m, 0), "site=\"gold\",text=\"say \\\"hi\\\"\\nbye\"",
               "site from the extra label");
        ok(m->samples[0].value == 1, "the first one is kept");
        is_str(labels_of(m, 1), "site=\"gold\"", "msg{text=\"\"}: the empty label is left out");
        ok(m->samples[1].value == 3, "and msg 4 was its duplicate");
    }
    mset_unref(c.set);
}

static void test_labels_next(void)
{
    /* Values with every escape, commas, '=' and quotes in them. */
    static const char text[] = "a=\"x\\\"y\",b=\"\\\\\",c=\"1,2=\\\"3\\\"\",d=\"\\n\",e=\"\"";
    size_t len = sizeof(text) - 1, pos = 0, nl, vl;
    const char *name, *value;
    static const char *const want[][2] = {
        {"a", "x\\\"y"}, {"b", "\\\\"}, {"c", "1,2=\\\"3\\\""}, {"d", "\\n"}, {"e", ""}};
    for (size_t i = 0; i < ARRAY_LEN(want); i++) {
        bool more = labels_next(text, len, &pos, &name, &nl, &value, &vl);
        ok(more && nl == strlen(want[i][0]) && memcmp(name, want[i][0], nl) == 0 &&
               vl == strlen(want[i][1]) && memcmp(value, want[i][1], vl) == 0,
           "labels_next pair %zu: %.*s=%.*s", i, more ? (int)nl : 0, more ? name : "",
           more ? (int)vl : 0, more ? value : "");
    }
    ok(!labels_next(text, len, &pos, &name, &nl, &value, &vl), "labels_next: end");
    is_int(pos, len, "pos at the end");
    pos = 0;
    ok(!labels_next("", 0, &pos, &name, &nl, &value, &vl), "empty text: nothing");
    pos = 0;
    ok(!labels_next("a=\"open", 7, &pos, &name, &nl, &value, &vl), "unterminated value: false");
    pos = 0;
    ok(!labels_next("a=\"x\\\"", 6, &pos, &name, &nl, &value, &vl),
       "escaped quote at the end is not a closing quote");
    pos = 0;
    ok(!labels_next("abc", 3, &pos, &name, &nl, &value, &vl), "no '=': false");

    /* Round trip: every value escaped by the set walks back out unchanged. */
    struct metric_set *s = mset_new();
    struct metric_family *f = mset_family(s, "t", METRIC_GAUGE, "x");
    const char *vals[] = {"\\", "\"", "\n", "\\\"", "a,b", "x=\"y\"", "\\\\n"};
    mset_addv(s, f, 1, "a", vals[0], "b", vals[1], "c", vals[2], "d", vals[3], "e", vals[4], "f",
              vals[5], "g", vals[6], NULL);
    pos = 0;
    size_t i = 0;
    bool all = true;
    while (labels_next(f->samples[0].labels, f->samples[0].labels_len, &pos, &name, &nl, &value,
                       &vl)) {
        char plain[64];
        size_t pl = textparse_unescape(plain, value, vl);
        if (i >= ARRAY_LEN(vals) || pl != strlen(vals[i]) || memcmp(plain, vals[i], pl) != 0)
            all = false;
        i++;
    }
    ok(all && i == ARRAY_LEN(vals), "escaped values walk back to the originals (%zu)", i);
    mset_unref(s);
}

static void test_growth(void)
{
    struct metric_set *s = mset_new();
    char name[64], v[32];
    enum { NFAM = 3000, PER = 40 };
    size_t mem0 = mset_memory_bytes(s);
    int bad = 0;
    for (int i = 0; i < NFAM; i++) {
        snprintf(name, sizeof(name), "demo_family_%d", i);
        struct metric_family *f = mset_family(s, name, METRIC_GAUGE, "x");
        if (!f) bad++;
        for (int j = 0; f && j < PER; j++) {
            snprintf(v, sizeof(v), "%d", j);
            if (mset_addv(s, f, i * PER + j, "i", v, "parity", j % 2 ? "odd" : "even", NULL)) bad++;
        }
    }
    is_int(bad, 0, "3000 families x 40 series added");
    is_int(mset_family_count(s), NFAM, "family count");
    is_int(mset_sample_count(s), NFAM * PER, "120000 series");
    ok(mset_memory_bytes(s) > mem0 + NFAM * PER * sizeof(struct metric_sample),
       "memory accounting grows (%zu bytes)", mset_memory_bytes(s));
    int found = 0, dups = 0, order = 0;
    for (int i = 0; i < NFAM; i++) {
        snprintf(name, sizeof(name), "demo_family_%d", i);
        struct metric_family *f = mset_family_find(s, name, strlen(name));
        if (f && f == mset_family_at(s, (size_t)i)) found++;
        for (int j = 0; f && j < PER; j++) {
            snprintf(v, sizeof(v), "%d", j);
            if (mset_addv(s, f, -1, "parity", j % 2 ? "odd" : "even", "i", v, NULL) == -EEXIST)
                dups++;
            if (f->samples[j].value == i * PER + j) order++;
        }
    }
    is_int(found, NFAM, "every family found after the index grew");
    is_int(dups, NFAM * PER, "every series is still known after the series index grew");
    is_int(order, NFAM * PER, "values in insertion order");

    /* One family with many series: its sample array and the series index grow. */
    struct metric_family *big = mset_family(s, "demo_big", METRIC_COUNTER, "x");
    int rc = 0;
    for (int j = 0; j < 50000; j++) {
        snprintf(v, sizeof(v), "s%d", j);
        rc |= mset_addv(s, big, j, "id", v, NULL);
    }
    is_int(rc, 0, "50000 series in one family");
    is_int(big->nsamples, 50000, "all there");
    mset_unref(s);
}

static void test_refcount(void)
{
    struct metric_set *s = mset_new();
    struct metric_family *f = mset_family(s, "demo", METRIC_GAUGE, "x");
    mset_addv(s, f, 1, "a", "b", NULL);
    char *str = mset_strdup(s, "kept with the set");
    mset_ref(s);
    mset_unref(s);
    is_str(str, "kept with the set", "one reference dropped of two: still alive");
    is_int(mset_sample_count(s), 1, "still usable");
    struct snapshot *snap = snapshot_new(&s, 1, 7);
    mset_unref(s); /* the snapshot's reference keeps it */
    size_t n;
    const struct family_view *v = snapshot_families(snap, &n);
    ok(n == 1 && v[0].nparts == 1 && v[0].parts[0]->nsamples == 1,
       "the snapshot keeps the set alive");
    is_int(snapshot_generation(snap), 7, "generation");
    snapshot_ref(snap);
    snapshot_unref(snap);
    const char *data;
    size_t len;
    is_int(snapshot_render(snap, EXPO_TEXT, false, &data, &len), 0, "renders after unrefs");
    is_str(data, "# HELP demo x\n# TYPE demo gauge\ndemo{a=\"b\"} 1\n", "render");
    snapshot_unref(snap);
    mset_unref(NULL);
    snapshot_unref(NULL);
    ok(1, "unref of NULL is a no-op");
}

static const struct family_view *view_named(const struct family_view *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].parts[0]->name, name) == 0) return &v[i];
    return NULL;
}

static void test_snapshot_merge(void)
{
    struct metric_set *a = mset_new(), *b = mset_new(), *c = mset_new();
    struct metric_family *f;
    f = mset_family(a, "m", METRIC_GAUGE, "help from a");
    mset_addv(a, f, 1, "s", "a", NULL);
    mset_addv(a, f, 2, "s", "a2", NULL);
    f = mset_family(a, "c_total", METRIC_COUNTER, "x");
    mset_addv(a, f, 3, NULL);
    f = mset_family(b, "m", METRIC_GAUGE, "help from b");
    mset_addv(b, f, 4, "s", "b", NULL);
    f = mset_family(b, "c_total", METRIC_GAUGE, "conflict");
    mset_addv(b, f, 5, "x", "y", NULL);
    f = mset_family(b, "a_first", METRIC_GAUGE, "x");
    mset_addv(b, f, 6, NULL);
    f = mset_family(c, "m", METRIC_COUNTER, "conflict");
    mset_addv(c, f, 7, "s", "c", NULL);
    f = mset_family(c, "z", METRIC_UNTYPED, "x");
    mset_addv(c, f, 8, NULL);
    struct metric_set *sets[4] = {a, NULL, b, c};
    struct snapshot *snap = snapshot_new(sets, 4, 1);
    size_t n;
    const struct family_view *v = snapshot_families(snap, &n);
    is_int(n, 4, "four families (NULL set skipped)");
    ok(n == 4 && strcmp(v[0].parts[0]->name, "a_first") == 0 &&
           strcmp(v[1].parts[0]->name, "c_total") == 0 && strcmp(v[2].parts[0]->name, "m") == 0 &&
           strcmp(v[3].parts[0]->name, "z") == 0,
       "families in name order");
    const struct family_view *m = view_named(v, n, "m");
    ok(m && m->nparts == 2, "m merges two parts (the counter in c conflicts)");
    if (m && m->nparts == 2) {
        ok(m->parts[0]->samples[0].value == 1 && m->parts[1]->samples[0].value == 4,
           "parts in set order");
        is_str(m->parts[0]->help, "help from a", "metadata from the first set");
    }
    const struct family_view *ct = view_named(v, n, "c_total");
    ok(ct && ct->nparts == 1 && ct->parts[0]->type == METRIC_COUNTER,
       "c_total: the first set's counter wins");
    is_int(snapshot_conflicts(snap), 2, "two conflicts: c_total in b, m in c");
    is_int(snapshot_series(snap), 6, "series: 2+1 of m, c_total, a_first, z (not the conflicts)");
    const char *data;
    size_t len;
    must(snapshot_render(snap, EXPO_TEXT, false, &data, &len));
    is_str(data,
           "# HELP a_first x\n# TYPE a_first gauge\na_first 6\n"
           "# HELP c_total x\n# TYPE c_total counter\nc_total 3\n"
           "# HELP m help from a\n# TYPE m gauge\nm{s=\"a\"} 1\nm{s=\"a2\"} 2\nm{s=\"b\"} 4\n"
           "# HELP z x\n# TYPE z untyped\nz 8\n",
           "merged text");
    snapshot_unref(snap);
    mset_unref(a);
    mset_unref(b);
    mset_unref(c);
}

static void test_snapshot_rules(void)
{
    /* Regression: an empty family (a textfile HELP placeholder) decided the type, and the
     * real family of another set was dropped as a conflict. */
    struct metric_set *a = mset_new(), *b = mset_new();
    DRW_IGNORE(mset_family(a, "x", METRIC_UNTYPED, "placeholder")); /* only its presence */
    struct metric_family *f = mset_family(b, "x", METRIC_GAUGE, "real");
    mset_addv(b, f, 1, NULL);
    struct metric_set *sets[2] = {a, b};
    struct snapshot *snap = snapshot_new(sets, 2, 1);
    size_t n;
    const struct family_view *v = snapshot_families(snap, &n);
    ok(n == 1 && v[0].nparts == 1 && v[0].parts[0]->type == METRIC_GAUGE,
       "an empty family does not decide the type");
    is_int(snapshot_conflicts(snap), 0, "and is no conflict");
    is_int(snapshot_series(snap), 1, "one series");
    snapshot_unref(snap);
    mset_unref(a);
    mset_unref(b);

    /* Regression: the same series in two sets was exposed twice. */
    a = mset_new();
    b = mset_new();
    struct metric_set *c = mset_new();
    f = mset_family(a, "up", METRIC_GAUGE, "x");
    mset_addv(a, f, 1, "job", "a", NULL);
    f = mset_family(b, "up", METRIC_GAUGE, "x");
    mset_addv(b, f, 2, "job", "a", NULL);
    mset_addv(b, f, 3, "job", "b", NULL);
    f = mset_family(c, "up", METRIC_GAUGE, "x");
    mset_addv(c, f, 4, "job", "b", NULL);
    mset_addv(c, f, 5, "job", "c", NULL);
    struct metric_set *sets3[3] = {a, b, c};
    snap = snapshot_new(sets3, 3, 1);
    v = snapshot_families(snap, &n);
    size_t total = 0;
    for (size_t i = 0; n == 1 && i < v[0].nparts; i++) total += v[0].parts[i]->nsamples;
    is_int(total, 3, "cross-set duplicates left out");
    is_int(snapshot_series(snap), 3, "snapshot_series counts what is exposed");
    is_int(snapshot_conflicts(snap), 2, "and the duplicates are counted as conflicts");
    const char *data;
    size_t len;
    must(snapshot_render(snap, EXPO_TEXT, false, &data, &len));
    is_str(data,
           "# HELP up x\n# TYPE up gauge\nup{job=\"a\"} 1\nup{job=\"b\"} 3\nup{job=\"c\"} 5\n",
           "the first set keeps a duplicated series");
    snapshot_unref(snap);
    mset_unref(a);
    mset_unref(b);
    mset_unref(c);

    snap = snapshot_new(NULL, 0, 9);
    v = snapshot_families(snap, &n);
    is_int(n, 0, "a snapshot of nothing");
    must(snapshot_render(snap, EXPO_TEXT, false, &data, &len));
    ok(len == 0 && data && *data == '\0', "renders as an empty text body");
    must(snapshot_render(snap, EXPO_OPENMETRICS, false, &data, &len));
    is_str(data, "# EOF\n", "and as a bare # EOF in OpenMetrics");
    snapshot_unref(snap);

    /* Many sets, many families: merged in name order, then set order. */
    enum { NSETS = 20, NF = 200 };
    struct metric_set *many[NSETS];
    char name[32], val[16];
    for (int i = 0; i < NSETS; i++) {
        many[i] = mset_new();
        for (int j = NF - 1; j >= 0; j--) {
            snprintf(name, sizeof(name), "fam_%03d", j);
            snprintf(val, sizeof(val), "%d", i);
            mset_addv(many[i], mset_family(many[i], name, METRIC_GAUGE, "x"), i, "set", val, NULL);
        }
    }
    snap = snapshot_new(many, NSETS, 1);
    v = snapshot_families(snap, &n);
    int good = n == NF;
    for (size_t i = 0; good && i < n; i++) {
        snprintf(name, sizeof(name), "fam_%03zu", i);
        good = strcmp(v[i].parts[0]->name, name) == 0 && v[i].nparts == NSETS;
        for (size_t p = 0; good && p < v[i].nparts; p++)
            good = v[i].parts[p]->samples[0].value == (double)p;
    }
    ok(good, "20 sets x 200 families: name order, then set order");
    is_int(snapshot_series(snap), NSETS * NF, "4000 series");
    is_int(snapshot_conflicts(snap), 0, "no conflicts");
    snapshot_unref(snap);
    for (int i = 0; i < NSETS; i++) mset_unref(many[i]);
}

int main(void)
{
    test_families();
    test_canonical();
    test_duplicates();
    test_refused();
    test_parsed();
    test_textparse();
    test_labels_next();
    test_growth();
    test_refcount();
    test_snapshot_merge();
    test_snapshot_rules();
    return done_testing();
}
