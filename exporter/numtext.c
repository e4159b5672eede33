/* numtext.c: number text that Prometheus' parsers read back exactly, and durations. */
#include "numtext.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

static size_t fmt_int64(char *out, int64_t v)
{
    char tmp[24];
    size_t n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t len = 0;
    if (v < 0) out[len++] = '-';
    while (n) out[len++] = tmp[--n];
    out[len] = '\0';
    return len;
}

/* Decimal powers that are exact doubles, for the fixed-point fast path. */
static const double pow10_exact[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};

/* Writes m / 10^k with k decimals ("-0.05" for m = -5, k = 2). */
static size_t fmt_fixed(char *out, int64_t m, int k)
{
    char tmp[24];
    int n = 0;
    uint64_t u = m < 0 ? (uint64_t)0 - (uint64_t)m : (uint64_t)m;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u || n <= k);
    size_t len = 0;
    if (m < 0) out[len++] = '-';
    while (n) {
        out[len++] = tmp[--n];
        if (n == k && k) out[len++] = '.';
    }
    out[len] = '\0';
    return len;
}

/* The shortest "%.Ng" text that reads back as v. Up to 15 significant digits every double
 * that has such a form prints as it (DBL_DIG), so normal numbers start there; subnormals have
 * less precision and may need fewer digits. */
static size_t fmt_shortest(char *out, double v)
{
    for (int prec = fabs(v) < DBL_MIN ? 1 : 15; prec < 17; prec++) {
        int n = snprintf(out, 32, "%.*g", prec, v);
        if (strtod(out, NULL) == v) return (size_t)n;
    }
    return (size_t)snprintf(out, 32, "%.17g", v);
}

size_t fmt_double(char *out, double v)
{
    if (isnan(v)) return (size_t)(memcpy(out, "NaN", 4), 3);
    if (isinf(v)) return (size_t)(memcpy(out, v > 0 ? "+Inf" : "-Inf", 5), 4);
    /* Most samples are counts: print them as integers, fast and exact. */
    double a = fabs(v);
    if (v == trunc(v) && a < 1e15) return fmt_int64(out, (int64_t)v);
    /* Many others have a few decimals (they were parsed from text, or are durations): the
     * first k for which m / 10^k reads back as v exactly (m and 10^k are exact doubles and
     * strtod rounds correctly) gives the shortest text, without printf's multi-precision
     * arithmetic. %g prints the same digits in fixed notation for 1e-4 <= |v| < 1e15. */
    if (a >= 1e-4 && a < 1e15) {
        for (int k = 1; k < (int)ARRAY_LEN(pow10_exact); k++) {
            double scaled = v * pow10_exact[k];
            if (fabs(scaled) >= 9007199254740992.0) break; /* 2^53: m no longer exact */
            double m = nearbyint(scaled);
            if (m / pow10_exact[k] == v) return fmt_fixed(out, (int64_t)m, k);
        }
    }
    return fmt_shortest(out, v);
}

/* OpenMetrics canonical numbers (le and quantile label values) are Go's shortest %g with
 * ".0" appended when there is neither a point nor an exponent, exactly as Prometheus
 * normalizes them (formatOpenMetricsFloat): the exponent form is used below 1e-4 and from
 * 1e+06 on, so 1000000 is "1e+06", 100000 is "100000.0", 0.00001 is "1e-05". */
size_t fmt_double_canonical(char *out, double v)
{
    if (isnan(v)) return (size_t)(memcpy(out, "NaN", 4), 3);
    if (isinf(v)) return (size_t)(memcpy(out, v > 0 ? "+Inf" : "-Inf", 5), 4);
    if (v == 0) return (size_t)(memcpy(out, "0.0", 4), 3); /* -0 too, like Go's v == 0 */
    /* Shortest significant digits, from %e: [-]d[.ddd]e[+-]x */
    char e[40];
    for (int prec = fabs(v) < DBL_MIN ? 1 : 15; prec <= 17; prec++) {
        snprintf(e, sizeof(e), "%.*e", prec - 1, v);
        if (prec == 17 || strtod(e, NULL) == v) break;
    }
    char digits[20];
    int nd = 0;
    const char *p = e + (e[0] == '-');
    for (; *p && *p != 'e'; p++)
        if (*p != '.') digits[nd++] = *p;
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    int exp = atoi(p + 1);
    size_t len = 0;
    if (v < 0) out[len++] = '-';
    if (exp < -4 || exp >= 6) {
        out[len++] = digits[0];
        if (nd > 1) {
            out[len++] = '.';
            memcpy(out + len, digits + 1, (size_t)nd - 1);
            len += (size_t)nd - 1;
        }
        len += (size_t)snprintf(out + len, 8, "e%c%02d", exp < 0 ? '-' : '+', abs(exp));
        return len;
    }
    if (exp < 0) {
        memcpy(out + len, "0.", 2);
        len += 2;
        for (int i = -1; i > exp; i--) out[len++] = '0';
        memcpy(out + len, digits, (size_t)nd);
        len += (size_t)nd;
    } else {
        for (int i = 0; i <= exp || i < nd; i++) {
            if (i == exp + 1) out[len++] = '.';
            out[len++] = i < nd ? digits[i] : '0';
        }
        if (nd <= exp + 1) {
            memcpy(out + len, ".0", 2);
            len += 2;
        }
    }
    out[len] = '\0';
    return len;
}

/* Prometheus durations (model.ParseDuration): one or more <integer><unit>, units from the
 * largest to the smallest, each at most once ("1h30m", not "30m1h" or "1m1m"); "0" alone is
 * zero. */
int parse_duration_ms(const char *s, int64_t *out_ms)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"y", 365 * 86400000LL},
                 {"w", 7 * 86400000LL},
                 {"d", 86400000},
                 {"h", 3600000},
                 {"m", 60000},
                 {"s", 1000},
                 {"ms", 1}};
    if (!s || !*s) return -EINVAL;
    if (strcmp(s, "0") == 0) {
        *out_ms = 0;
        return 0;
    }
    int64_t total = 0;
    size_t next = 0; /* the first unit still allowed */
    const char *p = s;
    while (*p) {
        if (*p < '0' || *p > '9') return -EINVAL;
        int64_t n = 0;
        while (*p >= '0' && *p <= '9') {
            int d = *p++ - '0';
            if (n > (INT64_MAX - d) / 10) return -EINVAL;
            n = n * 10 + d;
        }
        size_t u = ARRAY_LEN(units);
        if (p[0] == 'm' && p[1] == 's')
            u = 6;
        else
            for (size_t i = 0; i < 6; i++)
                if (*p == units[i].unit[0]) u = i;
        if (u == ARRAY_LEN(units) || u < next) return -EINVAL;
        if (n > (INT64_MAX - total) / units[u].ms) return -EINVAL;
        total += n * units[u].ms;
        p += strlen(units[u].unit);
        next = u + 1;
    }
    *out_ms = total;
    return 0;
}
