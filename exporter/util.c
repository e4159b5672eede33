/* util.c: the small helpers every module uses: aborting allocators for core data, capped
 * buffers for outside data (modelled on curl's dynbuf), a bump arena for metric sets, clocks,
 * number formatting that matches what Prometheus' parsers read back exactly, and durations. */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void oom(size_t n)
{
    fprintf(stderr, "level=error component=util msg=\"out of memory\" bytes=%zu\n", n);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) oom(n * size);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

/* ---- struct buf ---- */

void buf_init(struct buf *b, size_t max)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->max = max;
}

void buf_free(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

int buf_reserve(struct buf *b, size_t extra)
{
    if (b->max && (extra > b->max || b->len > b->max - extra)) return -E2BIG;
    if (extra > SIZE_MAX / 2 - b->len) return -E2BIG; /* no cap: still never wrap around */
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) cap *= 2;
    if (b->max && cap > b->max + 1) cap = b->max + 1;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
    return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
    int rc = buf_reserve(b, n);
    if (rc) return rc;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int buf_puts(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

int buf_putc(struct buf *b, char c)
{
    return buf_append(b, &c, 1);
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) return -EINVAL;
    if ((size_t)n < sizeof(small)) return buf_append(b, small, (size_t)n);
    int rc = buf_reserve(b, (size_t)n);
    if (rc) return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

char *buf_steal(struct buf *b, size_t *len)
{
    char *p = b->data ? b->data : xstrdup("");
    if (len) *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

/* ---- arena ---- */

struct arena_chunk {
    struct arena_chunk *next;
    size_t used, size;
    max_align_t data[];
};

#define ARENA_CHUNK_MIN (64 * 1024)
#define ARENA_CHUNK_MAX (1024 * 1024)

void arena_init(struct arena *a)
{
    a->head = NULL;
    a->used_total = 0;
}

void arena_free(struct arena *a)
{
    struct arena_chunk *c = a->head;
    while (c) {
        struct arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->used_total = 0;
}

void *arena_alloc(struct arena *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    struct arena_chunk *c = a->head;
    if (!c || c->size - c->used < n) {
        /* Chunks grow from 64 KiB to 1 MiB with the arena: small sets stay small, and a large
         * one is made of blocks that malloc maps and unmaps on their own (main sets the mmap
         * threshold), so freeing a big set gives its memory back to the system. */
        size_t grow = a->used_total / 4;
        if (grow < ARENA_CHUNK_MIN) grow = ARENA_CHUNK_MIN;
        if (grow > ARENA_CHUNK_MAX) grow = ARENA_CHUNK_MAX;
        size_t size = n > ARENA_CHUNK_MIN / 4 ? n : grow;
        c = xmalloc(sizeof(*c) + size);
        c->size = size;
        c->used = 0;
        if (a->head && n > ARENA_CHUNK_MIN / 4) {
            /* A big block goes behind the current chunk so its free space stays usable. */
            c->next = a->head->next;
            a->head->next = c;
        } else {
            c->next = a->head;
            a->head = c;
        }
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    a->used_total += n;
    return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
    return arena_strndup(a, s, strlen(s));
}

/* ---- clocks ---- */

int64_t time_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double time_mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double time_wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- numbers ---- */

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

/* Multiply-and-fold of 64-bit words (the mixing step of wyhash): eight bytes per step where
 * FNV-1a did one, which matters when every one of 100k series is hashed at each parse. */
static inline uint64_t hash_mix(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

uint64_t hash_bytes(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *s = p;
    uint64_t h = seed ^ 0x9e3779b97f4a7c15ULL ^ (uint64_t)n;
    while (n >= 16) {
        uint64_t a, b;
        memcpy(&a, s, 8);
        memcpy(&b, s + 8, 8);
        h = hash_mix(a ^ 0xa0761d6478bd642fULL, b ^ h);
        s += 16;
        n -= 16;
    }
    uint64_t a = 0, b = 0;
    if (n > 8) {
        memcpy(&a, s, 8);
        memcpy(&b, s + 8, n - 8);
    } else {
        memcpy(&a, s, n);
    }
    h = hash_mix(a ^ 0xe7037ed1a0b428dbULL, b ^ h);
    return hash_mix(h ^ 0x8ebc6af09c88c6e3ULL, 0x589965cc75374cc3ULL);
}

int file_read_all(const char *path, size_t max, char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    struct buf b;
    buf_init(&b, max);
    int rc = 0;
    for (;;) {
        size_t want = 65536;
        if (max && b.len == max) {
            char probe;
            ssize_t r;
            do r = read(fd, &probe, 1);
            while (r < 0 && errno == EINTR);
            rc = r > 0 ? -E2BIG : (r < 0 ? -errno : 0);
            break;
        }
        if (max && want > max - b.len) want = max - b.len;
        buf_reserve(&b, want); /* cannot fail: want fits under max */
        ssize_t r = read(fd, b.data + b.len, want);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) rc = -errno;
        if (r <= 0) break;
        b.len += (size_t)r;
        b.data[b.len] = '\0';
    }
    close(fd);
    if (rc < 0) {
        buf_free(&b);
        return rc;
    }
    if (b.data) b.data[b.len] = '\0'; /* an empty file: reserved, never written */
    *out = buf_steal(&b, len);
    return 0;
}

bool str_has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool str_has_suffix(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && memcmp(s + ls - lx, suffix, lx) == 0;
}
