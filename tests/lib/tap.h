/* tap.h: a tiny TAP producer for the C unit tests, run under prove. Header-only; each test
 * binary includes it once. The plan is printed at the end (done_testing). */
#ifndef DRWATCH_TAP_H
#define DRWATCH_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_count, tap_failed;

__attribute__((format(printf, 2, 3))) static int ok(int cond, const char *fmt, ...)
{
    va_list ap;
    char name[1024];
    tap_count++;
    va_start(ap, fmt);
    vsnprintf(name, sizeof(name), fmt, ap);
    va_end(ap);
    for (char *p = name; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '#') *p = *p == '#' ? '_' : ' ';
    printf("%sok %d - %s\n", cond ? "" : "not ", tap_count, name);
    if (!cond) tap_failed++;
    fflush(stdout);
    return cond;
}

static void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2), unused));
static void diag(const char *fmt, ...)
{
    va_list ap;
    printf("# ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

#define is_int(got, want, ...)                                                 \
    do {                                                                       \
        long long g_ = (long long)(got), w_ = (long long)(want);               \
        if (!ok(g_ == w_, __VA_ARGS__)) diag("  got %lld, want %lld", g_, w_); \
    } while (0)

#define is_str(got, want, ...)                                                       \
    do {                                                                             \
        const char *g_ = (got), *w_ = (want);                                        \
        int same_ = (g_ && w_) ? strcmp(g_, w_) == 0 : g_ == w_;                     \
        if (!ok(same_, __VA_ARGS__))                                                 \
            diag("  got:\n%s\n# want:\n%s", g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
    } while (0)

/* A step the test needs to succeed (0 back) to go on: when it fails, a failing test names it. */
#define must(expr) ((expr) == 0 ? (void)0 : (void)ok(0, "must: %s", #expr))

static int done_testing(void)
{
    printf("1..%d\n", tap_count);
    return tap_failed ? 1 : 0;
}

#endif
