/* test_textparse.c: the Prometheus text format 0.0.4 parser (exporter/textparse.c).
 *
 * Every rule of reference/prometheus-format.md §2 and §7, a table of malformed inputs with the
 * line and message each must be refused with, the /metrics bodies of the real targets
 * (tests/data/textparse/, copied from the reference docs), and textparse_float against Go's
 * strconv.ParseFloat. Runs from the repo root. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "caps.h"
#include "fileio.h"
#include "tap.h"
#include "textparse.h"
#include "xalloc.h"

#define DATA_DIR "tests/data/textparse/"

/* ---- a handler that logs what the parser reports, one line per callback ---- */

struct rec {
    struct buf log;
    bool log_lines; /* append "@<line>" to each entry */
    int stop_at;    /* the sample callback returns -42 at this sample (1-based); 0: never */
    int nsamples;
    struct textparse_error err;
    struct textparse_stats st;
    int rc;
};

static void put_value(struct buf *b, double v)
{
    char s[40];
    if (isnan(v))
        snprintf(s, sizeof(s), "NaN");
    else if (isinf(v))
        snprintf(s, sizeof(s), "%cInf", v < 0 ? '-' : '+');
    else if (v == trunc(v) && fabs(v) < 1e15)
        snprintf(s, sizeof(s), "%.0f", v);
    else {
        for (int prec = 1; prec <= 17; prec++) { /* the shortest text that reads back */
            snprintf(s, sizeof(s), "%.*g", prec, v);
            if (strtod(s, NULL) == v) break;
        }
    }
    buf_puts(b, s);
}

static int on_help(void *ctx, const char *name, size_t name_len, const char *text, size_t text_len,
                   unsigned line)
{
    struct rec *r = ctx;
    buf_printf(&r->log, "H %.*s|%.*s", (int)name_len, name, (int)text_len, text);
    if (r->log_lines) buf_printf(&r->log, " @%u", line);
    buf_putc(&r->log, '\n');
    return 0;
}

static int on_type(void *ctx, const char *name, size_t name_len, enum metric_type type,
                   unsigned line)
{
    struct rec *r = ctx;
    buf_printf(&r->log, "T %.*s %s", (int)name_len, name, metric_type_name(type));
    if (r->log_lines) buf_printf(&r->log, " @%u", line);
    buf_putc(&r->log, '\n');
    return 0;
}

/* "S name{labels} value [ts] (family type suffix)" */
static int on_sample(void *ctx, const struct tp_sample *s)
{
    struct rec *r = ctx;
    if (++r->nsamples == r->stop_at) {
        textparse_error_set(&r->err, s->line, "stopped by the handler at %.*s", (int)s->name_len,
                            s->name);
        return -42;
    }
    buf_printf(&r->log, "S %.*s", (int)s->name_len, s->name);
    if (s->nlabels) {
        buf_putc(&r->log, '{');
        for (size_t i = 0; i < s->nlabels; i++)
            buf_printf(&r->log, "%s%.*s=\"%.*s\"", i ? "," : "", (int)s->labels[i].name_len,
                       s->labels[i].name, (int)s->labels[i].value_len, s->labels[i].value);
        buf_putc(&r->log, '}');
    }
    buf_putc(&r->log, ' ');
    put_value(&r->log, s->value);
    if (s->has_timestamp) buf_printf(&r->log, " %lld", (long long)s->timestamp_ms);
    buf_printf(&r->log, " (%.*s %s%s)", (int)s->family_len, s->name,
               metric_type_name(s->family_type), metric_suffix_text(s->suffix));
    if (r->log_lines) buf_printf(&r->log, " @%u", s->line);
    buf_putc(&r->log, '\n');
    return 0;
}

static const struct textparse_handler rec_handler = {
    .help = on_help, .type = on_type, .sample = on_sample};

static int run_len(struct rec *r, const char *body, size_t len, bool strict)
{
    struct textparse_opts o = {.strict = strict};
    buf_reset(&r->log);
    buf_puts(&r->log, "");
    r->nsamples = 0;
    r->st = (struct textparse_stats){0};
    r->rc = textparse_run(body, len, &rec_handler, r, &o, &r->err, &r->st);
    return r->rc;
}

static int run(struct rec *r, const char *body, bool strict)
{
    return run_len(r, body, strlen(body), strict);
}

/* Parses body in one mode and compares the log. */
static void check_log(struct rec *r, const char *body, bool strict, const char *want,
                      const char *what)
{
    int rc = run(r, body, strict);
    if (!ok(rc == 0, "%s: parses (%s)", what, strict ? "strict" : "tolerant"))
        diag("  rc %d, line %u: %s", rc, r->err.line, r->err.msg);
    is_str(r->log.data, want, "%s: reported as expected", what);
}

/* Parses body in both modes and compares the log each time. */
static void check_both(struct rec *r, const char *body, const char *want, const char *what)
{
    check_log(r, body, false, want, what);
    check_log(r, body, true, want, what);
}

/* ---- 1. rules of the format ---- */

static void test_metadata(struct rec *r)
{
    check_both(r,
               "# HELP a_total Requests.\n"
               "# TYPE a_total counter\n"
               "a_total 1\n"
               "# TYPE b gauge\n"
               "# HELP b TYPE first, as the Ruby client writes it.\n"
               "b 2\n",
               "H a_total|Requests.\n"
               "T a_total counter\n"
               "S a_total 1 (a_total counter)\n"
               "T b gauge\n"
               "H b|TYPE first, as the Ruby client writes it.\n"
               "S b 2 (b gauge)\n",
               "HELP and TYPE in either order");

    check_both(r,
               "# TYPE c COUNTER\n# TYPE g Gauge\n# TYPE h hIsToGrAm\n# TYPE s SUMMARY\n"
               "# TYPE u Untyped\n",
               "T c counter\nT g gauge\nT h histogram\nT s summary\nT u untyped\n",
               "type words are case-insensitive, as in Go (strings.ToUpper)");

    check_both(r, "# TYPE m gauge\n# HELP m\n# HELP n   \n# TYPE o gauge   \n",
               "T m gauge\nH m|\nH n|\nT o gauge\n",
               "empty HELP text; trailing blanks after the TYPE word");

    check_both(r,
               "# HELP x Escapes stay raw: \\\\ and \\n; quotes \"as is\".\n"
               "# HELP y \t leading blanks go, trailing stay \n",
               "H x|Escapes stay raw: \\\\ and \\n; quotes \"as is\".\n"
               "H y|leading blanks go, trailing stay \n",
               "HELP text is passed still escaped");

    check_both(r,
               "# TYPE fluentd_output_status_buffer_newest_timekey gauge\n"
               "# HELP fluentd_output_status_buffer_newest_timekey Newest timekey in buffer.\n"
               "# TYPE fluentd_output_status_retry_wait gauge\n"
               "# HELP fluentd_output_status_retry_wait Current retry wait\n"
               "fluentd_output_status_retry_wait{plugin_id=\"out_es\"} 256.0\n",
               "T fluentd_output_status_buffer_newest_timekey gauge\n"
               "H fluentd_output_status_buffer_newest_timekey|Newest timekey in buffer.\n"
               "T fluentd_output_status_retry_wait gauge\n"
               "H fluentd_output_status_retry_wait|Current retry wait\n"
               "S fluentd_output_status_retry_wait{plugin_id=\"out_es\"} 256 "
               "(fluentd_output_status_retry_wait gauge)\n",
               "metadata-only family (FluentD registers families before they have samples)");

    check_both(r, "x 1\n# HELP x Late help is fine.\n",
               "S x 1 (x untyped)\nH x|Late help is fine.\n",
               "HELP after the samples is accepted (only TYPE must come first)");

    /* Repeated metadata: refused in strict mode, counted in tolerant mode. */
    const char *rep = "# HELP r Help.\n# TYPE r gauge\nr 1\n"
                      "# HELP r Help.\n# TYPE r gauge\nr{x=\"y\"} 2\n";
    check_log(r, rep, false, "H r|Help.\nT r gauge\nS r 1 (r gauge)\nS r{x=\"y\"} 2 (r gauge)\n",
              "repeated identical HELP and TYPE");
    is_int(r->st.repeated_metadata, 2, "tolerant: both repeats counted in repeated_metadata");
    is_int(run(r, rep, true), TEXTPARSE_ESYNTAX, "strict: a second HELP is refused");
    is_int(r->err.line, 4, "strict: at the second HELP line");
    ok(strstr(r->err.msg, "second HELP line for metric name \"r\" (the first is on line 1)") !=
           NULL,
       "strict: message names the family and the first line: %s", r->err.msg);

    check_log(r, "# HELP r One.\n# HELP r Two.\nr 1\n", false, "H r|One.\nS r 1 (r untyped)\n",
              "tolerant: a repeated HELP with other text is dropped (the first wins)");
    is_int(r->st.repeated_metadata, 1, "tolerant: and counted");

    is_int(run(r, "t 1\n# TYPE t gauge\n", false), TEXTPARSE_ESYNTAX,
           "tolerant: TYPE after samples refused");
    is_int(run(r, "t 1\n# TYPE t gauge\n", true), TEXTPARSE_ESYNTAX,
           "strict: TYPE after samples refused");
    ok(strstr(r->err.msg, "reported after samples") && strstr(r->err.msg, "on line 1"),
       "TYPE after samples: message says so and where: %s", r->err.msg);
}

static void test_comments_and_blanks(struct rec *r)
{
    check_both(r,
               "# A comment.\n"
               "#\n"
               "#no blank after the hash\n"
               "# help lower case is a comment\n"
               "# TYPEX is a comment too\n"
               "# HELP patroni_postgres_state Numeric representation of Postgres state.\n"
               "# Values: 0=initdb, 1=initdb_failed, 5=running, 14=crashed\n"
               "# TYPE patroni_postgres_state gauge\n"
               "patroni_postgres_state{scope=\"pg-gold\",name=\"pg-gold-0\"} 5\n",
               "H patroni_postgres_state|Numeric representation of Postgres state.\n"
               "T patroni_postgres_state gauge\n"
               "S patroni_postgres_state{scope=\"pg-gold\",name=\"pg-gold-0\"} 5 "
               "(patroni_postgres_state gauge)\n",
               "comments ignored, Patroni's '# Values:' line between HELP and TYPE");

    check_both(r, "\n\n   \n\t\n \t \nx 1\n\n\ny 2\n\n", "S x 1 (x untyped)\nS y 2 (y untyped)\n",
               "blank and blank-only lines");

    check_both(r,
               "  \t# HELP w   Words.\n\t #   TYPE\tw\tgauge\t\n"
               " \t w \t{ a = \"1\" , b=\"2\" , } \t 3 \t 1718012345123 \t \n"
               "w{c\t=\t\"4\"}\t5\n#HELP v No blank after the hash.\n",
               "H w|Words.\nT w gauge\n"
               "S w{a=\"1\",b=\"2\"} 3 1718012345123 (w gauge)\n"
               "S w{c=\"4\"} 5 (w gauge)\nH v|No blank after the hash.\n",
               "leading and trailing blanks and tabs everywhere");

    check_both(r, "", "", "an empty body");
    check_both(r, "x 1\n   \t", "S x 1 (x untyped)\n",
               "blanks after the last newline are accepted (as in Go)");
}

static void test_labels(struct rec *r)
{
    check_both(r,
               "a{} 1\n"
               "b {x=\"1\"} 2\n"
               "c{x=\"1\",} 3\n"
               "d{x=\"\",y=\"2\"} 4\n"
               "e{ x = \"1\" , y = \"2\" } 5\n"
               "f{_x=\"1\",X9=\"2\",le=\"3\",quantile=\"q\"} 6\n",
               "S a 1 (a untyped)\n"
               "S b{x=\"1\"} 2 (b untyped)\n"
               "S c{x=\"1\"} 3 (c untyped)\n"
               "S d{x=\"\",y=\"2\"} 4 (d untyped)\n"
               "S e{x=\"1\",y=\"2\"} 5 (e untyped)\n"
               "S f{_x=\"1\",X9=\"2\",le=\"3\",quantile=\"q\"} 6 (f untyped)\n",
               "label sets: {}, blank before '{', trailing comma, empty value, blanks");

    const char *esc = "g{path=\"C:\\\\logs\\\\x\",msg=\"said \\\"hi\\\"\\nbye\",b=\"a,b}c\"} 1\n";
    check_both(r, esc,
               "S g{path=\"C:\\\\logs\\\\x\",msg=\"said \\\"hi\\\"\\nbye\",b=\"a,b}c\"} 1 "
               "(g untyped)\n",
               "label values keep their escapes; ',' and '}' inside quotes are text");

    check_both(r, "u{city=\"Zürich\",jp=\"東京\",rocket=\"🚀\",empty=\"\"} 1\n",
               "S u{city=\"Zürich\",jp=\"東京\",rocket=\"🚀\",empty=\"\"} 1 (u untyped)\n",
               "UTF-8 label values");

    char line[8192];
    size_t n = (size_t)snprintf(line, sizeof(line), "many{");
    for (int i = 0; i < 128; i++)
        n += (size_t)snprintf(line + n, sizeof(line) - n, "l%d=\"v\",", i);
    snprintf(line + n, sizeof(line) - n, "} 1\n");
    is_int(run(r, line, true), 0, "128 labels (the default limit) are accepted");
    snprintf(line + n, sizeof(line) - n, "l128=\"v\"} 1\n");
    is_int(run(r, line, true), TEXTPARSE_ESYNTAX, "129 labels are refused");
    ok(strstr(r->err.msg, "too many labels on \"many\" (the limit is 128)") != NULL, "message: %s",
       r->err.msg);
}

static void test_values(struct rec *r)
{
    check_both(r,
               "v 1\nv{a=\"1\"} -2\nv{a=\"2\"} 3.25\nv{a=\"3\"} 1e3\nv{a=\"4\"} 2.5E-3\n"
               "v{a=\"5\"} 040104\nv{a=\"6\"} 12.0\nv{a=\"7\"} 1.0987e+38\n"
               "v{a=\"8\"} NaN\nv{a=\"9\"} +Inf\nv{a=\"10\"} -Inf\nv{a=\"11\"} Inf\n"
               "v{a=\"12\"} 1718007151.402155\nv{a=\"13\"} 2.2519553493741e+38\n"
               "v{a=\"14\"} .5\nv{a=\"15\"} 5.\nv{a=\"16\"} +7\nv{a=\"17\"} 0.0\n",
               "S v 1 (v untyped)\nS v{a=\"1\"} -2 (v untyped)\nS v{a=\"2\"} 3.25 (v untyped)\n"
               "S v{a=\"3\"} 1000 (v untyped)\nS v{a=\"4\"} 0.0025 (v untyped)\n"
               "S v{a=\"5\"} 40104 (v untyped)\nS v{a=\"6\"} 12 (v untyped)\n"
               "S v{a=\"7\"} 1.0987e+38 (v untyped)\nS v{a=\"8\"} NaN (v untyped)\n"
               "S v{a=\"9\"} +Inf (v untyped)\nS v{a=\"10\"} -Inf (v untyped)\n"
               "S v{a=\"11\"} +Inf (v untyped)\nS v{a=\"12\"} 1718007151.402155 (v untyped)\n"
               "S v{a=\"13\"} 2.2519553493741e+38 (v untyped)\nS v{a=\"14\"} 0.5 (v untyped)\n"
               "S v{a=\"15\"} 5 (v untyped)\nS v{a=\"16\"} 7 (v untyped)\n"
               "S v{a=\"17\"} 0 (v untyped)\n",
               "values: integers, floats, exponents, leading zero, NaN and infinities");

    check_both(r,
               "t 1 1718012345123\nt{a=\"1\"} 1 -1\nt{a=\"2\"} 1 0\nt{a=\"3\"} 1 +5\n"
               "t{a=\"4\"} 1 9223372036854775807\nt{a=\"5\"} 1 -9223372036854775808\n"
               "t{a=\"6\"} 1 -1718012345123\n",
               "S t 1 1718012345123 (t untyped)\nS t{a=\"1\"} 1 -1 (t untyped)\n"
               "S t{a=\"2\"} 1 0 (t untyped)\nS t{a=\"3\"} 1 5 (t untyped)\n"
               "S t{a=\"4\"} 1 9223372036854775807 (t untyped)\n"
               "S t{a=\"5\"} 1 -9223372036854775808 (t untyped)\n"
               "S t{a=\"6\"} 1 -1718012345123 (t untyped)\n",
               "optional int64 millisecond timestamps, negative and extreme ones too");
}

static void test_histograms_and_summaries(struct rec *r)
{
    check_both(r,
               "# HELP rq_seconds Request latency.\n"
               "# TYPE rq_seconds histogram\n"
               "rq_seconds_bucket{path=\"/a\",le=\"1\"} 1\n"
               "rq_seconds_bucket{path=\"/b\",le=\"1.0\"} 2\n"
               "rq_seconds_bucket{path=\"/c\",le=\"0.25\"} 3\n"
               "rq_seconds_bucket{le=\"2.5e-1\",path=\"/d\"} 3\n"
               "rq_seconds_bucket{path=\"/a\",le=\"+Inf\"} 4\n"
               "rq_seconds_sum{path=\"/a\"} -0.5\n"
               "rq_seconds_count{path=\"/a\"} 4\n",
               "H rq_seconds|Request latency.\n"
               "T rq_seconds histogram\n"
               "S rq_seconds_bucket{path=\"/a\",le=\"1\"} 1 (rq_seconds histogram_bucket)\n"
               "S rq_seconds_bucket{path=\"/b\",le=\"1.0\"} 2 (rq_seconds histogram_bucket)\n"
               "S rq_seconds_bucket{path=\"/c\",le=\"0.25\"} 3 (rq_seconds histogram_bucket)\n"
               "S rq_seconds_bucket{le=\"2.5e-1\",path=\"/d\"} 3 (rq_seconds histogram_bucket)\n"
               "S rq_seconds_bucket{path=\"/a\",le=\"+Inf\"} 4 (rq_seconds histogram_bucket)\n"
               "S rq_seconds_sum{path=\"/a\"} -0.5 (rq_seconds histogram_sum)\n"
               "S rq_seconds_count{path=\"/a\"} 4 (rq_seconds histogram_count)\n",
               "histogram: _bucket/_sum/_count resolve to the family; le as 1, 1.0, 0.25, +Inf");

    check_both(r,
               "# TYPE rpc summary\n"
               "rpc{quantile=\"0.5\"} 0.01\n"
               "rpc{quantile=\"0.99\"} NaN\n"
               "rpc{quantile=\"1\"} 3\n"
               "rpc_sum 12\n"
               "rpc_count 40\n"
               "rpc_bucket 1\n",
               "T rpc summary\n"
               "S rpc{quantile=\"0.5\"} 0.01 (rpc summary)\n"
               "S rpc{quantile=\"0.99\"} NaN (rpc summary)\n"
               "S rpc{quantile=\"1\"} 3 (rpc summary)\n"
               "S rpc_sum 12 (rpc summary_sum)\n"
               "S rpc_count 40 (rpc summary_count)\n"
               "S rpc_bucket 1 (rpc_bucket untyped)\n",
               "summary: quantiles, _sum and _count; a summary has no _bucket");

    check_both(r,
               "# TYPE g gauge\ng 1\ng_count 2\ng_sum 3\n"
               "fed_bucket{le=\"1\"} 1\nfed_sum 2\nfed_count 3\n",
               "T g gauge\nS g 1 (g gauge)\nS g_count 2 (g_count untyped)\n"
               "S g_sum 3 (g_sum untyped)\n"
               "S fed_bucket{le=\"1\"} 1 (fed_bucket untyped)\n"
               "S fed_sum 2 (fed_sum untyped)\nS fed_count 3 (fed_count untyped)\n",
               "suffixes only join histograms and summaries (federation sends them untyped)");

    /* Found by the fuzzer: the renderer writes "# TYPE h_bucket untyped" for an untyped
     * family that happens to end in _bucket; its samples used to be taken for buckets of
     * histogram h and refused for lacking le, so drwatch could not read its own output. */
    check_both(r,
               "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n"
               "# TYPE h_bucket untyped\nh_bucket 2\n"
               "# TYPE h_count counter\nh_count 3\n",
               "T h histogram\nS h_bucket{le=\"+Inf\"} 1 (h histogram_bucket)\n"
               "S h_count 1 (h histogram_count)\n"
               "T h_bucket untyped\nS h_bucket 2 (h_bucket untyped)\n"
               "T h_count counter\nS h_count 3 (h_count counter)\n",
               "regression: a name with its own TYPE is its own family, even untyped");

    check_both(r, "q_count 1\n# TYPE q summary\nq{quantile=\"0.5\"} 2\nq_count 3\nq_sum 4\n",
               "S q_count 1 (q_count untyped)\nT q summary\n"
               "S q{quantile=\"0.5\"} 2 (q summary)\nS q_count 3 (q_count untyped)\n"
               "S q_sum 4 (q summary_sum)\n",
               "as in Go: a name that is already a family stays its own family");

    r->log_lines = true;
    check_both(r, "# HELP k K.\n\n# TYPE k histogram\nk_sum 1\n\nk_count 2\n",
               "H k|K. @1\nT k histogram @3\nS k_sum 1 (k histogram_sum) @4\n"
               "S k_count 2 (k histogram_count) @6\n",
               "callbacks get the line numbers");
    r->log_lines = false;
}

static void test_line_ends(struct rec *r)
{
    check_both(r,
               "# HELP c Carriage returns.\r\n# TYPE c gauge\r\n\r\nc{a=\"b\"} 1 5\r\n"
               "c{a=\"x\"} 2\n",
               "H c|Carriage returns.\nT c gauge\nS c{a=\"b\"} 1 5 (c gauge)\n"
               "S c{a=\"x\"} 2 (c gauge)\n",
               "CRLF line ends are tolerated (and mixed with LF)");
}

/* ---- 2. malformed inputs ---- */

struct bad {
    const char *in;
    size_t len;
    unsigned mode; /* BOTH, STRICT or TOLERANT */
    unsigned line;
    const char *msg;
};

enum { BOTH, STRICT, TOLERANT };

#define BAD(in, mode, line, msg)            \
    {                                       \
        in, sizeof(in) - 1, mode, line, msg \
    }

static const struct bad bad_inputs[] = {
    /* metric names */
    BAD("1foo 1\n", BOTH, 1, "invalid metric name \"1foo\""),
    BAD("foo-bar 1\n", BOTH, 1, "invalid metric name \"foo-bar\""),
    BAD("foo.bar{a=\"b\"} 1\n", BOTH, 1, "invalid metric name \"foo.bar\""),
    BAD("m\xc3\xa9tric 1\n", BOTH, 1, "invalid metric name \"m\xc3\xa9tric\""),
    BAD("{a=\"b\"} 1\n", BOTH, 1, "expected a metric name at the start of the line"),
    BAD("{\"my.metric\",a=\"b\"} 1\n", BOTH, 1, "quoted metric names (text format 1.0.0)"),
    BAD("ok 1\n# HELP 1foo Text.\n", BOTH, 2, "invalid metric name \"1foo\" in HELP line"),
    BAD("# TYPE foo-bar gauge\n", BOTH, 1, "invalid metric name \"foo-bar\" in TYPE line"),
    BAD("# HELP\n", BOTH, 1, "HELP line without a metric name"),
    BAD("# TYPE  \t\n", BOTH, 1, "TYPE line without a metric name"),
    /* label names */
    BAD("foo{1a=\"b\"} 1\n", BOTH, 1, "invalid label name \"1a\""),
    BAD("foo{a:b=\"c\"} 1\n", BOTH, 1, "invalid label name \"a:b\""),
    BAD("foo{a-b=\"c\"} 1\n", BOTH, 1, "invalid label name \"a-b\""),
    BAD("foo{\xc3\xa9=\"c\"} 1\n", BOTH, 1, "invalid label name \"\xc3\xa9\""),
    BAD("foo{__name__=\"foo\"} 1\n", BOTH, 1, "label name \"__name__\" is reserved"),
    BAD("foo{a=\"1\",b=\"2\",a=\"3\"} 1\n", BOTH, 1,
        "duplicate label names: \"a\" appears twice in \"foo\""),
    BAD("foo{,} 1\n", BOTH, 1, "expected a label name in the label set of \"foo\", got \",\""),
    BAD("foo{=\"b\"} 1\n", BOTH, 1, "expected a label name in the label set of \"foo\""),
    BAD("foo{a=\"b\",,c=\"d\"} 1\n", BOTH, 1, "expected a label name"),
    BAD("foo{\"a.b\"=\"c\"} 1\n", BOTH, 1, "quoted label names (text format 1.0.0)"),
    /* label syntax */
    BAD("foo{a \"b\"} 1\n", BOTH, 1, "expected '=' after label name \"a\", got \"\"b\"}\""),
    BAD("foo{a} 1\n", BOTH, 1, "expected '=' after label name \"a\""),
    BAD("foo{a=b} 1\n", BOTH, 1, "expected '\"' to start the value of label \"a\", got \"b}\""),
    BAD("foo{a=} 1\n", BOTH, 1, "expected '\"' to start the value of label \"a\""),
    BAD("foo{a=\"b} 1\n", BOTH, 1, "unterminated value of label \"a\""),
    BAD("foo{a=\"b\\\"} 1\n", BOTH, 1, "unterminated value of label \"a\""),
    BAD("foo{a=\"b\\", BOTH, 1, "unexpected end of input stream"),
    BAD("foo{a=\"b\\\n", BOTH, 1, "unterminated value of label \"a\""),
    BAD("foo{a=\"b\" c=\"d\"} 1\n", BOTH, 1,
        "expected ',' or '}' after the value of label \"a\", got \"c=\"d\"}\""),
    BAD("foo{a=\"b\";c=\"d\"} 1\n", BOTH, 1, "expected ',' or '}' after the value of label"),
    BAD("foo{a=\"b\"\n", BOTH, 1, "label set of \"foo\" is not closed"),
    BAD("foo{a=\"b\",\n", BOTH, 1, "label set of \"foo\" is not closed"),
    BAD("foo{\n", BOTH, 1, "label set of \"foo\" is not closed"),
    /* label values */
    BAD("foo{a=\"b\\x\"} 1\n", BOTH, 1,
        "invalid escape sequence '\\x' in the value of label \"a\" (only \\\\, \\\" and \\n"),
    BAD("foo{a=\"tab\\t\"} 1\n", BOTH, 1, "invalid escape sequence '\\t'"),
    BAD("foo{a=\"\\u00e9\"} 1\n", BOTH, 1, "invalid escape sequence '\\u'"),
    BAD("foo{a=\"\xff\"} 1\n", BOTH, 1, "invalid label value for \"a\": not valid UTF-8"),
    BAD("foo{a=\"\xc0\xaf\"} 1\n", BOTH, 1, "not valid UTF-8"),
    BAD("foo{a=\"\xed\xa0\x80\"} 1\n", BOTH, 1, "not valid UTF-8"),
    BAD("foo{a=\"caf\xc3\"} 1\n", BOTH, 1, "not valid UTF-8"),
    /* values */
    BAD("foo\n", BOTH, 1, "sample \"foo\" has no value"),
    BAD("foo{a=\"b\"}\n", BOTH, 1, "sample \"foo\" has no value"),
    BAD("foo \t \n", BOTH, 1, "sample \"foo\" has no value"),
    BAD("foo abc\n", BOTH, 1, "expected float as value for \"foo\", got \"abc\""),
    BAD("foo 1,5\n", BOTH, 1, "expected float as value for \"foo\", got \"1,5\""),
    BAD("foo 1_000\n", BOTH, 1, "expected float as value"),
    BAD("foo +NaN\n", BOTH, 1, "expected float as value"),
    BAD("foo 0x1A\n", BOTH, 1, "expected float as value"),
    BAD("foo 1e\n", BOTH, 1, "expected float as value"),
    BAD("foo --1\n", BOTH, 1, "expected float as value"),
    BAD("foo 1e400\n", BOTH, 1, "expected float as value for \"foo\", got \"1e400\""),
    BAD("foo nan(1)\n", BOTH, 1, "expected float as value"),
    BAD("foo true\n", BOTH, 1, "expected float as value"),
    BAD("foo{a=\"b\"}1\n", BOTH, 1, "expected a blank before the value of \"foo\""),
    BAD("foo 1\r\r\n", BOTH, 1, "expected float as value for \"foo\", got \"1\\x0d\""),
    /* timestamps */
    BAD("foo 1 1.5\n", BOTH, 1, "expected integer as timestamp (milliseconds), got \"1.5\""),
    BAD("foo 1 1e3\n", BOTH, 1, "expected integer as timestamp"),
    BAD("foo 1 abc\n", BOTH, 1, "expected integer as timestamp"),
    BAD("foo 1 -\n", BOTH, 1, "expected integer as timestamp"),
    BAD("foo 1 9223372036854775808\n", BOTH, 1, "timestamp \"9223372036854775808\" out of range"),
    BAD("foo 1 -9223372036854775809\n", BOTH, 1, "out of range"),
    BAD("foo 1 99999999999999999999999\n", BOTH, 1, "out of range"),
    BAD("foo 1 123 456\n", BOTH, 1, "spurious string after timestamp: \"456\""),
    BAD("foo 1 123 # {trace_id=\"x\"} 1\n", BOTH, 1, "spurious string after timestamp"),
    /* TYPE and HELP */
    BAD("# TYPE foo gauges\n", BOTH, 1,
        "unknown metric type \"gauges\" for \"foo\" (expected counter, gauge, histogram, "
        "summary or untyped)"),
    BAD("# TYPE foo info\n", BOTH, 1, "unknown metric type \"info\""),
    BAD("# TYPE foo gaugehistogram\n", BOTH, 1, "unknown metric type \"gaugehistogram\""),
    BAD("# TYPE foo\n", BOTH, 1, "TYPE line for \"foo\" without a type"),
    BAD("# TYPE foo gauge extra words\n", BOTH, 1,
        "unexpected text \"extra words\" after the type in TYPE line for \"foo\""),
    BAD("# HELP foo a\n# HELP foo a\n", STRICT, 2,
        "second HELP line for metric name \"foo\" (the first is on line 1)"),
    BAD("# TYPE foo gauge\n# HELP foo a\nfoo 1\n# TYPE foo gauge\n", STRICT, 4,
        "second TYPE line for metric name \"foo\" (the first is on line 1)"),
    BAD("# TYPE foo gauge\nfoo 1\n# TYPE foo counter\n", TOLERANT, 3,
        "second TYPE line for metric name \"foo\" says counter, but line 1 said gauge"),
    BAD("# TYPE foo gauge\n# TYPE foo untyped\n", TOLERANT, 2, "says untyped, but line 1"),
    BAD("# HELP foo a\nfoo 1\n# TYPE foo gauge\n", BOTH, 3,
        "TYPE line for \"foo\" reported after samples of that family (the first is on line 2)"),
    BAD("# TYPE h histogram\nh_bucket{le=\"1\"} 1\n\n# TYPE h histogram\n", STRICT, 4,
        "second TYPE line for metric name \"h\""),
    BAD("# HELP foo bad \\t escape\n", BOTH, 1,
        "invalid escape sequence '\\t' in HELP text for \"foo\" (only \\\\ and \\n"),
    BAD("# HELP foo a \\\"quote\\\"\n", BOTH, 1, "invalid escape sequence '\\\"' in HELP text"),
    BAD("# HELP patroni_version Patroni semver without periods.\\\n", BOTH, 1,
        "HELP text for \"patroni_version\" ends with a lone backslash"),
    BAD("# HELP foo caf\xe9\n", BOTH, 1, "HELP text for \"foo\" is not valid UTF-8"),
    /* histograms and summaries */
    BAD("# TYPE h histogram\nh 1\n", BOTH, 2,
        "sample \"h\" of histogram \"h\" needs a _bucket, _sum or _count suffix"),
    BAD("# TYPE h histogram\nh{le=\"1\"} 1\n", BOTH, 2, "needs a _bucket, _sum or _count"),
    BAD("# TYPE h histogram\nh_bucket 1\n", BOTH, 2,
        "histogram bucket \"h_bucket\" without an 'le' label"),
    BAD("# TYPE h histogram\nh_bucket{path=\"/\"} 1\n", BOTH, 2, "without an 'le' label"),
    BAD("# TYPE h histogram\nh_bucket{le=\"x\"} 1\n", BOTH, 2,
        "expected float as value for 'le' label, got \"x\""),
    BAD("# TYPE h histogram\nh_bucket{le=\"\"} 1\n", BOTH, 2,
        "expected float as value for 'le' label, got \"\""),
    BAD("# TYPE h histogram\nh_bucket{le=\"+inf \"} 1\n", BOTH, 2,
        "expected float as value for 'le' label"),
    BAD("# TYPE h histogram\nh_bucket{le=\"1\"} -1\n", BOTH, 2,
        "negative bucket population for histogram \"h\""),
    BAD("# TYPE h histogram\nh_bucket{le=\"1\"} -Inf\n", BOTH, 2, "negative bucket population"),
    BAD("# TYPE h histogram\nh_count -3\n", BOTH, 2, "negative count for histogram \"h\""),
    BAD("# TYPE s summary\ns 1\n", BOTH, 2,
        "sample \"s\" of summary \"s\" has no 'quantile' label"),
    BAD("# TYPE s summary\ns{quantile=\"high\"} 1\n", BOTH, 2,
        "expected float as value for 'quantile' label, got \"high\""),
    /* lines and bytes */
    BAD("foo 1", BOTH, 1, "unexpected end of input stream: the last line has no newline"),
    BAD("foo 1\nbar 2", BOTH, 2, "unexpected end of input stream"),
    BAD("# HELP foo Text.", BOTH, 1, "unexpected end of input stream"),
    BAD("foo 1\n\r", BOTH, 2, "unexpected end of input stream"),
    BAD("foo 1\n\0bar 2\n", BOTH, 2, "unexpected NUL byte"),
    BAD("foo{a=\"b\0\"} 1\n", BOTH, 1, "unexpected NUL byte"),
    BAD("# a comment with a \0 in it\n", BOTH, 1, "unexpected NUL byte"),
    BAD("a 1\nb 2\n# HELP c C.\n# TYPE c gauge\nc{x=\"1\"} 1\nc{x=\"2\"} 2 3 4\n", BOTH, 6,
        "spurious string after timestamp: \"4\""),
};

static void check_bad(struct rec *r, const struct bad *b, size_t i, bool strict)
{
    int rc = run_len(r, b->in, b->len, strict);
    const char *mode = strict ? "strict" : "tolerant";
    bool good = rc == TEXTPARSE_ESYNTAX && r->err.line == b->line && strstr(r->err.msg, b->msg);
    if (!ok(good, "bad input %zu refused (%s) at line %u: %s", i, mode, b->line, b->msg)) {
        struct buf q;
        buf_init(&q, CAP_LABELS_TEXT);
        for (size_t k = 0; k < b->len; k++) {
            unsigned char c = (unsigned char)b->in[k];
            if (c >= 0x20 && c < 0x7f && c != '\\')
                buf_putc(&q, (char)c);
            else
                buf_printf(&q, "\\x%02x", c);
        }
        diag("  input: %s", q.data ? q.data : "");
        diag("  rc %d, line %u: %s", rc, r->err.line, r->err.msg);
        buf_free(&q);
    }
}

static void test_bad_inputs(struct rec *r)
{
    for (size_t i = 0; i < ARRAY_LEN(bad_inputs); i++) {
        const struct bad *b = &bad_inputs[i];
        if (b->mode != STRICT) check_bad(r, b, i, false);
        if (b->mode != TOLERANT) check_bad(r, b, i, true);
    }
    ok(ARRAY_LEN(bad_inputs) >= 60, "%zu malformed inputs in the table", ARRAY_LEN(bad_inputs));

    /* Where the column points. */
    run(r, "foo{a=\"b\\x\"} 1\n", false);
    is_int(r->err.col, 9, "column of an invalid escape is that of its backslash");
    run(r, "  foo 1 2 3\n", false);
    is_int(r->err.col, 11, "column of spurious text counts the leading blanks");
    run(r, "foo 1", false);
    is_int(r->err.col, 6, "column of a missing newline is just past the line");

    /* Messages stay printable and short whatever the input holds. */
    char big[600];
    memset(big, 'x', sizeof(big));
    memcpy(big, "foo ", 4);
    big[sizeof(big) - 1] = '\n';
    run_len(r, big, sizeof(big), false);
    ok(strstr(r->err.msg, "xxx...\"") != NULL, "a long token is cut with ...: %s", r->err.msg);
    run(r, "foo \x01\x7f\xff\n", false);
    ok(strstr(r->err.msg, "got \"\\x01\\x7f\\xff\"") != NULL,
       "control and invalid bytes are shown as \\xNN: %s", r->err.msg);

    struct textparse_opts two = {.max_labels = 2};
    struct textparse_error err;
    int rc = textparse_run("foo{a=\"1\",b=\"2\",c=\"3\"} 1\n", 25, NULL, NULL, &two, &err, NULL);
    ok(rc == TEXTPARSE_ESYNTAX && strstr(err.msg, "too many labels on \"foo\" (the limit is 2)"),
       "opts.max_labels caps the label count: %s", err.msg);
}

/* ---- 3. real bodies ---- */

struct body {
    const char *file;
    size_t samples, families, lines;
};

static const struct body bodies[] = {
    {"kong-3.9.prom", 48, 13, 74},
    {"kong-3.9-cp.prom", 6, 3, 12},
    {"kong-2.8.prom", 24, 8, 40},
    {"patroni-4.1.4-leader.prom", 23, 23, 70},
    {"fluentd-output-monitor.prom", 8, 8, 24},
    {"tekton-1.10.prom", 18, 3, 24},
    {"kong-3.9-http-stream.prom", 9, 6, 29},
};

static char *read_body(const char *file, size_t *len)
{
    char path[256], *data = NULL;
    snprintf(path, sizeof(path), DATA_DIR "%s", file);
    if (file_read_all(path, 1 << 20, &data, len) != 0) return NULL;
    return data;
}

static void test_real_bodies(struct rec *r)
{
    for (size_t i = 0; i < ARRAY_LEN(bodies); i++) {
        const struct body *b = &bodies[i];
        size_t len;
        char *data = read_body(b->file, &len);
        if (!ok(data != NULL, "%s: read from " DATA_DIR, b->file)) continue;
        int rc = run_len(r, data, len, false);
        if (!ok(rc == 0, "%s: parses in tolerant mode", b->file))
            diag("  line %u: %s", r->err.line, r->err.msg);
        is_int(r->st.samples, b->samples, "%s: %zu samples", b->file, b->samples);
        is_int(r->st.families, b->families, "%s: %zu families", b->file, b->families);
        is_int(r->st.lines, b->lines, "%s: %zu lines", b->file, b->lines);
        free(data);
    }

    size_t len;
    char *kong = read_body("kong-3.9.prom", &len);
    if (kong) {
        run_len(r, kong, len, false);
        ok(strstr(r->log.data, "S kong_kong_latency_ms_bucket{service=\"orders-api\",route="
                               "\"orders-route\",workspace=\"default\",le=\"+Inf\"} 9742 "
                               "(kong_kong_latency_ms histogram_bucket)\n") != NULL,
           "kong 3.9: the +Inf bucket joins its histogram");
        ok(strstr(r->log.data, "S kong_request_latency_ms_sum{service=\"orders-api\",route="
                               "\"orders-route\",workspace=\"default\"} 201337 "
                               "(kong_request_latency_ms histogram_sum)\n") != NULL,
           "kong 3.9: _sum after _count joins its histogram");

        /* Kong with stream listeners appends a second exposition repeating HELP and TYPE. */
        char *two = xmalloc(2 * len);
        memcpy(two, kong, len);
        memcpy(two + len, kong, len);
        is_int(run_len(r, two, 2 * len, false), 0, "kong 3.9 twice: parses in tolerant mode");
        is_int(r->st.repeated_metadata, 26, "kong 3.9 twice: 26 repeated HELP/TYPE counted");
        is_int(r->st.samples, 96, "kong 3.9 twice: every sample reported");
        is_int(run_len(r, two, 2 * len, true), TEXTPARSE_ESYNTAX,
               "kong 3.9 twice: refused in strict mode");
        is_int(r->err.line, 75, "kong 3.9 twice: at the first line of the second exposition");
        ok(strstr(r->err.msg, "second HELP line for metric name \"kong_bandwidth_bytes\"") != NULL,
           "kong 3.9 twice: %s", r->err.msg);
        free(two);
        free(kong);
    }

    char *stream = read_body("kong-3.9-http-stream.prom", &len);
    if (stream) {
        is_int(run_len(r, stream, len, false), 0, "kong http+stream: tolerant mode");
        is_int(r->st.repeated_metadata, 6, "kong http+stream: 3 families' HELP and TYPE again");
        is_int(run_len(r, stream, len, true), TEXTPARSE_ESYNTAX, "kong http+stream: strict");
        is_int(r->err.line, 18, "kong http+stream: at the repeated HELP");
        free(stream);
    }

    char *fluentd = read_body("fluentd-output-monitor.prom", &len);
    if (fluentd) {
        run_len(r, fluentd, len, true);
        ok(strncmp(r->log.data,
                   "T fluentd_output_status_buffer_total_bytes gauge\n"
                   "H fluentd_output_status_buffer_total_bytes|Current total size of stage and "
                   "queue buffers.\n"
                   "S fluentd_output_status_buffer_total_bytes{hostname=\"fluentd-0\",plugin_id="
                   "\"out_es\",type=\"elasticsearch\"} 50331648 "
                   "(fluentd_output_status_buffer_total_bytes gauge)\n",
                   200) == 0,
           "fluentd: TYPE before HELP, Ruby float values");
        free(fluentd);
    }

    /* Our own exposition (prometheus-format.md §2.5) and federation output (§5). */
    check_both(r,
               "# HELP gwx_note_example Escaping demo: backslash \\\\ and newline \\n in HELP.\n"
               "# TYPE gwx_note_example gauge\n"
               "gwx_note_example{path=\"C:\\\\logs\\\\x\",msg=\"said \\\"hi\\\"\\nbye\"} 1\n"
               "# TYPE up untyped\n"
               "up{instance=\"10.97.12.34:8100\",job=\"kong\",site=\"gold\"} 1 1718012345123\n",
               "H gwx_note_example|Escaping demo: backslash \\\\ and newline \\n in HELP.\n"
               "T gwx_note_example gauge\n"
               "S gwx_note_example{path=\"C:\\\\logs\\\\x\",msg=\"said \\\"hi\\\"\\nbye\"} 1 "
               "(gwx_note_example gauge)\n"
               "T up untyped\n"
               "S up{instance=\"10.97.12.34:8100\",job=\"kong\",site=\"gold\"} 1 1718012345123 "
               "(up untyped)\n",
               "our own exposition and a federation sample");
}

/* ---- the API around the parse ---- */

static void test_api(struct rec *r)
{
    const char *body = "# HELP a A.\n# TYPE a gauge\na 1\nb 2\nc 3\n";
    is_int(textparse_run(body, strlen(body), NULL, NULL, NULL, NULL, NULL), 0,
           "NULL handler, options, error and stats are allowed");
    is_int(textparse_run("a b\n", 4, NULL, NULL, NULL, NULL, NULL), TEXTPARSE_ESYNTAX,
           "an error without an error struct still returns TEXTPARSE_ESYNTAX");

    struct textparse_error err;
    memset(&err, 0x55, sizeof(err));
    is_int(
        textparse_run(body, strlen(body), &(struct textparse_handler){0}, NULL, NULL, &err, NULL),
        0, "empty handler");
    ok(err.line == 0 && err.col == 0 && err.msg[0] == '\0', "the error is cleared on success");

    is_int(run(r, body, true), 0, "stats: parse");
    ok(r->st.lines == 5 && r->st.samples == 3 && r->st.families == 3 &&
           r->st.repeated_metadata == 0,
       "stats: 5 lines, 3 samples, 3 families, 0 repeats");

    r->stop_at = 2;
    is_int(run(r, body, false), -42, "a callback's non-zero return stops the parse");
    is_int(r->err.line, 4, "textparse_error_set records the callback's line");
    is_str(r->err.msg, "stopped by the handler at b", "and its message");
    is_int(r->st.samples, 2, "samples are counted up to the one whose callback stopped");
    r->stop_at = 0;

    textparse_error_set(NULL, 1, "ignored");
    textparse_error_set(&err, 7, "x=%d", 3);
    ok(err.line == 7 && err.col == 0 && strcmp(err.msg, "x=3") == 0, "textparse_error_set");
    char longmsg[400];
    memset(longmsg, 'y', sizeof(longmsg) - 1);
    longmsg[sizeof(longmsg) - 1] = '\0';
    textparse_error_set(&err, 1, "%s", longmsg);
    is_int(strlen(err.msg), sizeof(err.msg) - 1, "textparse_error_set truncates to msg");
}

/* ---- 4. textparse_float and textparse_unescape ---- */

struct float_case {
    const char *in;
    double want;
};

static const struct float_case float_ok[] = {
    {"0", 0},
    {"-0", -0.0},
    {"+1", 1},
    {"123456789012345", 123456789012345.0},
    {"9007199254740993", 9007199254740992.0},
    {"040104", 40104},
    {"12.0", 12},
    {"1.0987e+38", 1.0987e+38},
    {"1e3", 1000},
    {"1E3", 1000},
    {"1e-3", 0.001},
    {"1e+3", 1000},
    {".5", 0.5},
    {"5.", 5},
    {"-.5e1", -5},
    {"00.25", 0.25},
    {"1.7976931348623157e308", 1.7976931348623157e308},
    {"4.9e-324", 4.9e-324},
    {"1e-400", 0},
    {"+Inf", INFINITY},
    {"-Inf", -INFINITY},
    {"Inf", INFINITY},
    {"inf", INFINITY},
    {"INF", INFINITY},
    {"infinity", INFINITY},
    {"-Infinity", -INFINITY},
    {"+INFINITY", INFINITY},
};

static const char *const float_bad[] = {
    "+NaN",  "-NaN",    "nan(1)",    "0x1A",  "1_000",  "",      "1e",     "--1",
    " 1",    "1 ",      "\t1",       "1\n",   "0x1p-2", "0x1p",  "0x",     "0xp1",
    "1p5",   "infinit", "infinityy", "Inf1",  "in",     "1e400", "-1e400", "0x1p99999",
    "1.2.3", "1e5e5",   "+",         "-",     ".",      "e5",    "1,5",    "0b101",
    "0o17",  "1f",      "1d",        "0x1.8", "+-1",    "1-",    "1+1",    "1e+",
    "1e-",   "NaN1",    "١",         "∞",     "0x_1p0", "1__0",
};

static void test_float(void)
{
    for (size_t i = 0; i < ARRAY_LEN(float_ok); i++) {
        const struct float_case *c = &float_ok[i];
        double v = 12345;
        int rc = textparse_float(c->in, strlen(c->in), &v);
        bool same = v == c->want && signbit(v) == signbit(c->want);
        if (!ok(rc == 0 && same, "textparse_float accepts \"%s\"", c->in))
            diag("  rc %d, value %.17g, want %.17g", rc, v, c->want);
    }
    for (size_t i = 0; i < ARRAY_LEN(float_bad); i++) {
        double v = 12345;
        int rc = textparse_float(float_bad[i], strlen(float_bad[i]), &v);
        ok(rc < 0 && v == 12345, "textparse_float refuses \"%s\"", float_bad[i]);
    }
    double v = 0;
    ok(textparse_float("NaN", 3, &v) == 0 && isnan(v), "textparse_float accepts \"NaN\"");
    ok(textparse_float("nan", 3, &v) == 0 && isnan(v), "textparse_float accepts \"nan\"");
    ok(textparse_float("12 junk", 2, &v) == 0 && v == 12, "only n bytes are read");

    /* Go reads any length; numbers longer than strtod's stack copy still parse. */
    char lng[300] = "0.";
    memset(lng + 2, '0', 200);
    strcpy(lng + 202, "15");
    ok(textparse_float(lng, strlen(lng), &v) == 0 && v == 1.5e-201, "a 204-byte number: %g", v);
    memset(lng, '9', 100);
    lng[100] = '\0';
    ok(textparse_float(lng, 100, &v) == 0 && v == 1e100, "a 100-digit integer: %g", v);
}

static void test_unescape(void)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"", ""},
        {"plain", "plain"},
        {"C:\\\\logs\\\\x", "C:\\logs\\x"},
        {"said \\\"hi\\\"", "said \"hi\""},
        {"a\\nb", "a\nb"},
        {"\\\\n", "\\n"},
        {"\\n\\n", "\n\n"},
        {"Z\xc3\xbcrich", "Z\xc3\xbcrich"},
        {"lone\\", "lone\\"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char out[64];
        memset(out, 'Z', sizeof(out));
        size_t n = textparse_unescape(out, cases[i].in, strlen(cases[i].in));
        ok(n == strlen(cases[i].want) && strcmp(out, cases[i].want) == 0,
           "textparse_unescape(\"%s\")", cases[i].in);
    }
}

int main(void)
{
    struct rec r = {0};
    buf_init(&r.log, CAP_HTTP_BODY);
    test_metadata(&r);
    test_comments_and_blanks(&r);
    test_labels(&r);
    test_values(&r);
    test_histograms_and_summaries(&r);
    test_line_ends(&r);
    test_bad_inputs(&r);
    test_real_bodies(&r);
    test_api(&r);
    test_float();
    test_unescape();
    buf_free(&r.log);
    return done_testing();
}
