/* timeparse.c: see timeparse.h. Days are counted with Howard Hinnant's days_from_civil, so
 * the result does not depend on the C library's idea of the local time zone. */
#include "timeparse.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

struct cursor {
    const char *s;
    size_t n, i;
};

static bool digits(struct cursor *c, size_t count, int *out)
{
    int v = 0;
    for (size_t k = 0; k < count; k++) {
        if (c->i >= c->n || c->s[c->i] < '0' || c->s[c->i] > '9') return false;
        v = v * 10 + (c->s[c->i++] - '0');
    }
    *out = v;
    return true;
}

static bool take(struct cursor *c, char ch)
{
    if (c->i < c->n && c->s[c->i] == ch) {
        c->i++;
        return true;
    }
    return false;
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

/* Zone: Z, UTC, +HH:MM, +HHMM, each optionally after one space. Sets *offset_s. */
static int parse_zone(struct cursor *c, unsigned flags, int *offset_s)
{
    *offset_s = 0;
    if (c->i == c->n) return (flags & TIMEPARSE_NAIVE_UTC) ? 0 : -EINVAL;
    if (take(c, ' ') && c->i == c->n) return -EINVAL;
    if (take(c, 'Z') || take(c, 'z')) return 0;
    if (c->n - c->i == 3 && c->s[c->i] == 'U' && c->s[c->i + 1] == 'T' && c->s[c->i + 2] == 'C') {
        c->i += 3;
        return 0;
    }
    int sign = take(c, '+') ? 1 : (take(c, '-') ? -1 : 0);
    int hh, mm;
    if (!sign || !digits(c, 2, &hh)) return -EINVAL;
    take(c, ':');
    if (!digits(c, 2, &mm) || hh > 23 || mm > 59) return -EINVAL;
    *offset_s = sign * (hh * 3600 + mm * 60);
    return 0;
}

int timeparse_iso(const char *s, size_t n, unsigned flags, double *out)
{
    struct cursor c = {.s = s, .n = n};
    int y, mo, d, h, mi, sec;
    if (!digits(&c, 4, &y) || !take(&c, '-') || !digits(&c, 2, &mo) || !take(&c, '-') ||
        !digits(&c, 2, &d))
        return -EINVAL;
    if (!take(&c, 'T') && !take(&c, 't') && !take(&c, ' ')) return -EINVAL;
    if (!digits(&c, 2, &h) || !take(&c, ':') || !digits(&c, 2, &mi) || !take(&c, ':') ||
        !digits(&c, 2, &sec))
        return -EINVAL;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
        sec > 60)
        return -EINVAL;
    double frac = 0, scale = 0.1;
    if (take(&c, '.') || take(&c, ',')) {
        size_t start = c.i;
        while (c.i < c.n && c.s[c.i] >= '0' && c.s[c.i] <= '9') {
            frac += (c.s[c.i++] - '0') * scale;
            scale /= 10;
        }
        if (c.i == start) return -EINVAL;
    }
    int offset;
    if (parse_zone(&c, flags, &offset) < 0 || c.i != c.n) return -EINVAL;
    int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset;
    *out = (double)t + frac;
    return 0;
}
