/* fuzz_template.c: alert templates (template_check, template_expand) on arbitrary text, and the
 * same bytes as a selector regex (the RE2-to-POSIX translation). The first byte picks the value
 * ($value), the rest is the template. Invariants: a template that template_check accepts
 * expands without a parse or type error (the only error left is a humanize function given
 * text that is not a number); one it refuses expands to "<error expanding template: ...>". */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "caps.h"
#include "selector.h"
#include "template.h"
#include "template_format.h"
#include "xalloc.h"

static bool lookup(void *arg, const char *name, struct buf *value)
{
    const char *labels = arg;
    return labels_get(labels, strlen(labels), name, value);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const double values[] = {0,    1,       -1,      0.5,   1e6,      1234567.891,
                                    1e-9, 1e300,   -1e-300, NAN,   INFINITY, -INFINITY,
                                    -0.0, 86400.5, 9.3e18,  5e-324};
    if (size == 0) return 0;
    double value = values[data[0] % (sizeof(values) / sizeof(values[0]))];
    char *tmpl = malloc(size);
    memcpy(tmpl, data + 1, size - 1);
    tmpl[size - 1] = '\0';

    char err[300];
    int checked = template_check(tmpl, err, sizeof(err));
    if (checked == 0 && strlen(err) >= sizeof(err)) abort();
    struct buf out;
    buf_init(&out, CAP_TEMPLATE_TEXT);
    const char *labels = "a=\"1.5\",b=\"x\\\"y\\\\z\\nw\",instance=\"db-1:5432\",site=\"gold\"";
    int rc = template_expand(tmpl, lookup, (void *)labels, value, &out);
    static const char prefix[] = "<error expanding template: ";
    if (rc < 0 && strncmp(out.data ? out.data : "", prefix, sizeof(prefix) - 1) != 0) abort();
    if (checked < 0 && rc == 0) abort();
    if (checked == 0 && rc < 0 &&
        strncmp(out.data + sizeof(prefix) - 1, "error calling humanize", 22) != 0)
        abort();
    buf_free(&out);

    char f[40];
    double v;
    if (size >= 9) {
        memcpy(&v, data + 1, sizeof(v));
        go_format_float(f, sizeof(f), v);
        if (!isnan(v) && strtod(f, NULL) != v && !isinf(v)) abort();
    }

    struct selector s = {.name = xstrdup("x")};
    if (selector_add(&s, "l", MATCH_RE, tmpl, err, sizeof(err)) == 0)
        selector_match_labels(&s, labels, strlen(labels));
    selector_free(&s);
    free(tmpl);
    return 0;
}
