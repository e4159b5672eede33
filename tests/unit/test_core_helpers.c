/* test_core_helpers.c: number text (fmt_double, fmt_double_canonical), durations, capped buffers,
 * arenas and file_read_all. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "caps.h"
#include "clock.h"
#include "fileio.h"
#include "hash.h"
#include "numtext.h"
#include "strutil.h"
#include "tap.h"
#include "xalloc.h"

static const char *fmt(double v)
{
    static char out[64];
    size_t n = fmt_double(out, v);
    if (n != strlen(out)) return "(length mismatch)";
    return out;
}

static const char *canon(double v)
{
    static char out[64];
    size_t n = fmt_double_canonical(out, v);
    if (n != strlen(out)) return "(length mismatch)";
    return out;
}

static void test_fmt_double(void)
{
    static const struct {
        double v;
        const char *want;
    } cases[] = {
        {0, "0"},
        {-0.0, "0"}, /* like Go's writer: -0 == 0 */
        {1, "1"},
        {-1, "-1"},
        {42, "42"},
        {1e14, "100000000000000"},
        {123456789012345, "123456789012345"},
        {-999999999999999, "-999999999999999"},
        {1e15, "1e+15"},
        {9007199254740992.0, "9007199254740992"},
        {-9007199254740993.0, "-9007199254740992"},
        {1e21, "1e+21"},
        {0.1, "0.1"},
        {0.3, "0.3"},
        {0.1 + 0.2, "0.30000000000000004"},
        {-0.05, "-0.05"},
        {100.25, "100.25"},
        {0.0001, "0.0001"},
        {0.000123, "0.000123"},
        {1e-05, "1e-05"},
        {1.5e-07, "1.5e-07"},
        {1234567.5, "1234567.5"},
        {123456789012345.6, "123456789012345.6"},
        {1.0 / 3.0, "0.3333333333333333"},
        {2.0 / 3.0, "0.6666666666666666"},
        {212.4, "212.4"},
        {1718000000.123, "1718000000.123"},
        {DBL_MAX, "1.7976931348623157e+308"},
        {-DBL_MAX, "-1.7976931348623157e+308"},
        {DBL_MIN, "2.2250738585072014e-308"},
        {5e-324, "5e-324"}, /* regression: was 4.94065645841247e-324 */
        {1e-320, "1e-320"},
        {NAN, "NaN"},
        {INFINITY, "+Inf"},
        {-INFINITY, "-Inf"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++)
        is_str(fmt(cases[i].v), cases[i].want, "fmt_double(%.17g)", cases[i].v);
}

/* Significant digits of a number's text: what "shortest" counts. */
static int sig_digits(const char *s)
{
    int n = 0, lead = 1, zeros = 0;
    for (; *s && *s != 'e'; s++) {
        if (*s < '0' || *s > '9') continue;
        if (lead && *s == '0') continue;
        lead = 0;
        if (*s == '0')
            zeros++;
        else
            n += zeros + 1, zeros = 0;
    }
    return n ? n : 1;
}

/* The fewest %.Ng digits that read back as v, by trying them all. */
static int min_digits(double v)
{
    char t[64];
    for (int p = 1; p <= 17; p++) {
        snprintf(t, sizeof(t), "%.*g", p, v);
        if (strtod(t, NULL) == v) return p;
    }
    return 17;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void test_round_trip(void)
{
    int bad = 0, longer = 0, bad_canon = 0;
    char first_bad[128] = "";
    for (int i = 0; i < 10000; i++) {
        double v;
        uint64_t r = rng();
        switch (i % 4) {
        case 0: /* any finite bit pattern */
            do {
                r = rng();
                memcpy(&v, &r, sizeof(v));
            } while (!isfinite(v));
            break;
        case 1: /* a decimal with a few places, as parsed from text */
            v = (double)(int64_t)(r % 2000000000) / pow(10, (double)(rng() % 10));
            break;
        case 2: /* a value in a common range */
            v = (double)(r >> 11) / 9007199254740992.0 * pow(10, (double)(rng() % 24) - 12);
            break;
        default: /* integers, small and large */ v = (double)(int64_t)(r >> (rng() % 64)); break;
        }
        if (rng() % 2) v = -v;
        const char *s = fmt(v);
        char *end;
        double back = strtod(s, &end);
        if (back != v || *end || strlen(s) > 31) {
            if (!bad++) snprintf(first_bad, sizeof(first_bad), "%.17g -> %s", v, s);
        } else if (sig_digits(s) > min_digits(v)) {
            if (!longer++)
                snprintf(first_bad, sizeof(first_bad), "%.17g -> %s (%d > %d)", v, s, sig_digits(s),
                         min_digits(v));
        }
        char c[64];
        fmt_double_canonical(c, v);
        if (strtod(c, NULL) != v || (!strpbrk(c, ".e") && v == v)) bad_canon++;
    }
    is_int(bad, 0, "10000 random doubles: strtod of fmt_double's text is the same double %s",
           first_bad);
    is_int(longer, 0, "and the text has the fewest significant digits %s", first_bad);
    is_int(bad_canon, 0, "fmt_double_canonical reads back too, always with '.' or 'e'");
}

static void test_canonical(void)
{
    static const struct {
        double v;
        const char *want;
    } cases[] = {
        /* The examples of the OpenMetrics spec ("Canonical Numbers"). */
        {0, "0.0"},
        {0.001, "0.001"},
        {0.002, "0.002"},
        {0.01, "0.01"},
        {0.1, "0.1"},
        {0.9, "0.9"},
        {0.95, "0.95"},
        {0.99, "0.99"},
        {0.999, "0.999"},
        {1, "1.0"},
        {1.7, "1.7"},
        {10, "10.0"},
        {1e-10, "1e-10"},
        {1e-09, "1e-09"},
        {1e-05, "1e-05"},
        {0.0001, "0.0001"},
        {100000, "100000.0"},
        {1e+06, "1e+06"},
        {1e+10, "1e+10"},
        /* Beyond them, as Prometheus' formatOpenMetricsFloat writes them. */
        {-0.0, "0.0"},
        {25, "25.0"},
        {0.25, "0.25"},
        {-1, "-1.0"},
        {-2.5, "-2.5"},
        {123456.7, "123456.7"},
        {1234567, "1.234567e+06"},
        {2.5e-07, "2.5e-07"},
        {0.1 + 0.2, "0.30000000000000004"},
        {1e21, "1e+21"},
        {1.5e300, "1.5e+300"},
        {DBL_MAX, "1.7976931348623157e+308"},
        {5e-324, "5e-324"},
        {INFINITY, "+Inf"},
        {-INFINITY, "-Inf"},
        {NAN, "NaN"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++)
        is_str(canon(cases[i].v), cases[i].want, "fmt_double_canonical(%.17g)", cases[i].v);
    /* "0.0 up to 10.0 in 0.001 increments": the shortest decimal, with ".0" for integers. */
    int bad = 0;
    char want[32], first[128] = "";
    for (int i = 0; i <= 10000; i++) {
        int frac = i % 1000, digits = 3;
        while (digits > 1 && frac % 10 == 0) frac /= 10, digits--;
        const char *pad = digits == 3 ? (frac < 10    ? "00"
                                         : frac < 100 ? "0"
                                                      : "")
                                      : (digits == 2 && frac < 10 ? "0" : "");
        snprintf(want, sizeof(want), "%d.%s%d", i / 1000, pad, frac);
        if (strcmp(canon(i / 1000.0), want) != 0 && !bad++)
            snprintf(first, sizeof(first), "%s != %s", canon(i / 1000.0), want);
    }
    is_int(bad, 0, "0.000 to 10.000 in steps of 0.001 %s", first);
}

static void test_durations(void)
{
    static const struct {
        const char *s;
        int64_t ms;
    } good[] = {
        {"1s", 1000},
        {"1m30s", 90000},
        {"500ms", 500},
        {"2h", 7200000},
        {"1d", 86400000},
        {"1w", 604800000},
        {"1y", 31536000000},
        {"0s", 0},
        {"0", 0},
        {"15s", 15000},
        {"1h30m", 5400000},
        {"1s500ms", 1500},
        {"1d2h3m4s5ms", 93784005},
        {"007s", 7000},
        {"9223372036854775807ms", INT64_MAX},
        {"292471208y35w", 292471208 * 31536000000LL + 35 * 604800000LL},
    };
    for (size_t i = 0; i < ARRAY_LEN(good); i++) {
        int64_t ms = -1;
        int rc = parse_duration_ms(good[i].s, &ms);
        ok(rc == 0 && ms == good[i].ms, "parse_duration_ms(\"%s\") = %lld (rc %d)", good[i].s,
           (long long)ms, rc);
    }
    static const char *const bad[] = {
        "",
        "s",
        "1",
        "1x",
        "-1s",
        "1.5s",
        "+1s",
        " 1s",
        "1s ",
        "1S",
        "1m1",
        "ms",
        "1sm",
        "1h1h",
        "30s1m",
        "1ms1s",
        "1m1h",
        "1s1s",
        "1 s",
        "0x10s",
        "1e3s",
        "\xc2\xb5s",
        "1us",
        "1mss",
        "9223372036854775808ms", /* the number overflows */
        "9223372036854776s",     /* the product overflows */
        "106751991168d",         /* likewise */
        "292471208y36w",         /* the sum overflows */
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        int64_t ms = 12345;
        int rc = parse_duration_ms(bad[i], &ms);
        ok(rc == -EINVAL && ms == 12345, "parse_duration_ms(\"%s\") is -EINVAL, output untouched",
           bad[i]);
    }
    int64_t ms;
    is_int(parse_duration_ms(NULL, &ms), -EINVAL, "NULL is -EINVAL");
}

static void test_buf(void)
{
    struct buf b;
    buf_init(&b, 10);
    is_int(buf_append(&b, "0123456789", 10), 0, "append up to the cap");
    is_int(b.len, 10, "len 10");
    is_int(buf_append(&b, "x", 1), -E2BIG, "one more byte: -E2BIG");
    is_int(buf_putc(&b, 'x'), -E2BIG, "buf_putc past the cap: -E2BIG");
    is_int(buf_puts(&b, "abc"), -E2BIG, "buf_puts past the cap: -E2BIG");
    is_int(buf_printf(&b, "%d", 7), -E2BIG, "buf_printf past the cap: -E2BIG");
    is_int(buf_reserve(&b, 1), -E2BIG, "buf_reserve past the cap: -E2BIG");
    ok(b.len == 10 && memcmp(b.data, "0123456789", 11) == 0,
       "the buffer is unchanged and NUL-terminated");
    is_int(buf_error(&b), -E2BIG, "buf_error: the first failure is kept");
    buf_reset(&b);
    ok(b.len == 0 && b.data[0] == '\0' && buf_error(&b) == 0, "reset empties and forgets");
    is_int(buf_append(&b, "0123456", 7), 0, "7 bytes");
    is_int(buf_error(&b), 0, "no error while appends fit");
    is_int(buf_append(&b, "abcd", 4), -E2BIG, "4 more would be 11: -E2BIG");
    is_str(b.data, "0123456", "unchanged after a refused append");
    /* Sticky: a text with a hole in it must not look whole. */
    is_int(buf_printf(&b, "%s", "abc"), -E2BIG, "after a failure, even 3 that would fit fail");
    is_int(buf_append(&b, "", 0), -E2BIG, "and so does appending nothing");
    is_str(b.data, "0123456", "the text is the part before the failure");
    is_int(buf_error(&b), -E2BIG, "checked once, at the end");
    buf_reset(&b);
    is_int(buf_append(&b, "0123456", 7), 0, "after a reset: 7 bytes");
    is_int(buf_printf(&b, "%s", "abc"), 0, "3 more fit exactly");
    is_str(b.data, "0123456abc", "printf appended");
    is_int(buf_append(&b, "", 0), 0, "appending nothing at the cap is fine");
    size_t len;
    char *p = buf_steal(&b, &len);
    ok(len == 10 && strcmp(p, "0123456abc") == 0 && b.data == NULL && b.len == 0,
       "buf_steal hands over the data and empties the buffer");
    free(p);
    buf_free(&b);

    buf_init(&b, CAP_MIB);
    char big[1000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    is_int(buf_printf(&b, "<%s>", big), 0, "printf longer than its stack buffer");
    ok(b.len == 1001 && b.data[0] == '<' && b.data[1000] == '>' && b.data[1001] == '\0',
       "long printf text complete");
    for (int i = 0; i < 100000; i++) buf_putc(&b, 'z');
    is_int(b.len, 101001, "grows up to its cap");
    /* Regression: without a cap, len + extra + 1 could wrap around. */
    is_int(buf_reserve(&b, SIZE_MAX), -E2BIG, "an impossible reserve fails, no wrap-around");
    is_int(buf_reserve(&b, SIZE_MAX - 5), -E2BIG, "likewise");
    is_int(b.len, 101001, "and changes nothing");
    buf_free(&b);
    ok(b.data == NULL && b.len == 0 && buf_error(&b) == 0, "buf_free");
    buf_free(NULL);
    ok(1, "buf_free(NULL)");
    buf_init(&b, CAP_KIB);
    p = buf_steal(&b, NULL);
    ok(p && *p == '\0', "buf_steal of an empty buffer gives \"\"");
    free(p);
    buf_init(&b, 5);
    is_int(buf_reserve(&b, 5), 0, "reserve exactly the cap");
    ok(b.cap == 6, "capacity is the cap plus the NUL (%zu)", b.cap);
    buf_free(&b);
}

/* Whether fn aborts (in a child, its complaint on stderr thrown away). */
static bool aborts(void (*fn)(void))
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stderr)) _exit(3);
        fn();
        _exit(0);
    }
    int st = 0;
    return pid > 0 && waitpid(pid, &st, 0) == pid && WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;
}

static void init_without_cap(void)
{
    struct buf b;
    buf_init(&b, 0);
}

static void append_to_zeroed(void)
{
    struct buf b = {0};
    (void)buf_puts(&b, "x");
}

static void test_buf_needs_a_cap(void)
{
    ok(aborts(init_without_cap), "buf_init without a cap aborts");
    ok(aborts(append_to_zeroed), "appending to a buffer never initialised aborts");
    struct buf c = BUF_INIT(7);
    is_int(buf_puts(&c, "0123456"), 0, "BUF_INIT: a buffer with its cap");
    is_int(buf_putc(&c, '7'), -E2BIG, "BUF_INIT: the cap holds");
    buf_free(&c);
}

static void test_arena(void)
{
    struct arena a;
    arena_init(&a);
    int misaligned = 0, corrupt = 0;
    char *ptrs[2000];
    for (int i = 0; i < 2000; i++) {
        size_t n = (size_t)(i % 37) + 1;
        ptrs[i] = arena_alloc(&a, n);
        if ((uintptr_t)ptrs[i] % 8) misaligned++;
        memset(ptrs[i], i & 0xff, n);
    }
    for (int i = 0; i < 2000; i++) {
        size_t n = (size_t)(i % 37) + 1;
        for (size_t k = 0; k < n; k++)
            if ((unsigned char)ptrs[i][k] != (i & 0xff)) corrupt++;
    }
    is_int(misaligned, 0, "allocations are 8-byte aligned");
    is_int(corrupt, 0, "allocations do not overlap");
    size_t used = a.used_total;
    char *small = arena_alloc(&a, 8);
    char *big = arena_alloc(&a, 100000); /* bigger than a chunk: a block of its own */
    char *after = arena_alloc(&a, 8);
    memset(big, 1, 100000);
    ok(big && after == small + 8, "a big block does not waste the current chunk");
    ok(a.used_total >= used + 100016, "used_total counts what was handed out");
    char *s = arena_strdup(&a, "hello");
    char *t = arena_strndup(&a, "world!!", 5);
    ok(strcmp(s, "hello") == 0 && strcmp(t, "world") == 0, "strdup and strndup");
    char *z = arena_alloc(&a, 0);
    ok(z != NULL, "a zero-size allocation is not NULL");
    arena_free(&a);
    ok(a.head == NULL && a.used_total == 0, "arena_free empties it");
    char *again = arena_strdup(&a, "reused");
    is_str(again, "reused", "usable after arena_free");
    arena_free(&a);
}

static void test_files(void)
{
    char dir[] = "/tmp/drwatch-test-util-XXXXXX";
    if (!ok(mkdtemp(dir) != NULL, "temporary directory")) return;
    char path[128], empty[128], bigp[128];
    snprintf(path, sizeof(path), "%s/hundred", dir);
    snprintf(empty, sizeof(empty), "%s/empty", dir);
    snprintf(bigp, sizeof(bigp), "%s/big", dir);
    FILE *f = fopen(path, "w");
    for (int i = 0; i < 100; i++) fputc('a' + i % 26, f);
    fclose(f);
    fclose(fopen(empty, "w"));
    f = fopen(bigp, "w");
    for (int i = 0; i < 300000; i++) fputc('0' + i % 10, f);
    fclose(f);

    char *data = NULL;
    size_t len = 0;
    is_int(file_read_all(path, 100, &data, &len), 0, "a file of exactly the cap");
    ok(len == 100 && data[0] == 'a' && data[99] == 'v' && data[100] == '\0',
       "all of it, NUL-terminated");
    free(data);
    data = NULL;
    is_int(file_read_all(path, 99, &data, &len), -E2BIG, "one byte over the cap: -E2BIG");
    ok(data == NULL, "no data on error");
    char why[64];
    is_str(file_read_error(-E2BIG, 16 * CAP_KIB, why, sizeof(why)), "larger than 16 KiB",
           "file_read_error: the cap in KiB");
    is_str(file_read_error(-E2BIG, CAP_MIB, why, sizeof(why)), "larger than 1 MiB",
           "file_read_error: in MiB");
    is_str(file_read_error(-E2BIG, 99, why, sizeof(why)), "larger than 99 bytes",
           "file_read_error: in bytes");
    is_str(file_read_error(-ENOENT, 99, why, sizeof(why)), strerror(ENOENT),
           "file_read_error: otherwise strerror");
    is_int(file_read_all(path, CAP_KIB, &data, &len), 0, "a cap well past the size");
    ok(len == 100, "100 bytes");
    free(data);
    is_int(file_read_all(empty, 10, &data, &len), 0, "an empty file");
    ok(len == 0 && data && *data == '\0', "empty string");
    free(data);
    is_int(file_read_all(bigp, CAP_MIB, &data, &len), 0,
           "300 KB under a 1 MiB cap (several reads)");
    ok(len == 300000 && data[299999] == '9', "all of it");
    free(data);
    is_int(file_read_all(bigp, 300000, &data, &len), 0, "300 KB with a cap of exactly that");
    free(data);
    is_int(file_read_all(bigp, 65536, &data, &len), -E2BIG, "300 KB with a 64 KiB cap");
    snprintf(path, sizeof(path), "%s/missing", dir);
    is_int(file_read_all(path, 10, &data, &len), -ENOENT, "a missing file: -ENOENT");
    is_int(file_read_all(dir, 10, &data, &len), -EISDIR, "a directory: -EISDIR");
    unlink(bigp);
    unlink(empty);
    snprintf(path, sizeof(path), "%s/hundred", dir);
    unlink(path);
    rmdir(dir);
}

static void test_misc(void)
{
    ok(hash_bytes("abc", 3, 0) == hash_bytes("abc", 3, 0), "hash is deterministic");
    ok(hash_bytes("abc", 3, 0) != hash_bytes("abc", 3, 1), "the seed changes the hash");
    ok(hash_bytes("abc", 3, 0) != hash_bytes("abd", 3, 0), "the bytes change the hash");
    ok(str_has_prefix("drwatch_up", "drwatch_") && !str_has_prefix("dr", "drwatch_"),
       "str_has_prefix");
    ok(str_has_suffix("x_total", "_total") && !str_has_suffix("total", "_total") &&
           str_has_suffix("x", ""),
       "str_has_suffix");
    char *p = xasprintf("%s-%d", "a", 42);
    is_str(p, "a-42", "xasprintf");
    free(p);
    p = xstrndup("abcdef", 3);
    is_str(p, "abc", "xstrndup");
    free(p);
    ok(time_mono_ms() > 0 && time_wall_s() > 1.5e9, "clocks");
}

/* str_utf8_clean: outside text made safe for JSON and logs. */
static void test_utf8_clean(void)
{
    char out[64];
    str_utf8_clean(out, sizeof(out), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    is_str(out, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "valid UTF-8 is kept");
    str_utf8_clean(out, sizeof(out), "a\xff b\xc3 c\xc0\xaf d\xed\xa0\x80 e\xf4\x90\x80\x80");
    is_str(out, "a? b? c?? d??? e????",
           "stray bytes, a cut sequence, an overlong, a surrogate, past U+10FFFF: '?' each");
    str_utf8_clean(out, sizeof(out), "line\none\ttab\x1b[31m\x7f");
    is_str(out, "line?one\ttab?[31m?", "control characters but tab become '?'");
    char small[6];
    str_utf8_clean(small, sizeof(small), "ab\xe2\x82\xac");
    is_str(small, "ab\xe2\x82\xac", "a character that just fits is kept");
    str_utf8_clean(small, sizeof(small), "abc\xe2\x82\xac");
    is_str(small, "abc", "one that does not is cut whole");
}

int main(void)
{
    test_utf8_clean();
    test_fmt_double();
    test_round_trip();
    test_canonical();
    test_durations();
    test_buf();
    test_buf_needs_a_cap();
    test_arena();
    test_files();
    test_misc();
    return done_testing();
}
