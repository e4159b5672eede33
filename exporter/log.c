/* log.c: logfmt writer. The minimum level is process-wide configuration written once by main
 * before threads start (like stderr itself), so it is the one static here. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum log_level min_level = LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int log_set_level_name(const char *name)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            min_level = (enum log_level)i;
            return 0;
        }
    }
    return -EINVAL;
}

bool log_enabled(enum log_level level)
{
    return level >= min_level;
}

/* Appends msg as a logfmt quoted value: backslash, quote and control characters escaped. */
static size_t quote_into(char *out, size_t room, const char *msg)
{
    size_t n = 0;
    if (room < 4) return 0;
    out[n++] = '"';
    for (const char *p = msg; *p && n + 6 < room; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c == '\n') {
            out[n++] = '\\';
            out[n++] = 'n';
        } else if (c < 0x20) {
            n += (size_t)snprintf(out + n, room - n, "\\x%02x", c);
        } else {
            out[n++] = (char)c;
        }
    }
    out[n++] = '"';
    return n;
}

static void log_vmsg(enum log_level level, const char *component, const char *fmt, va_list ap)
{
    char msg[2048], line[4400];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line),
                     "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s component=%s msg=",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, level_names[level], component);
    size_t len = (size_t)n + quote_into(line + n, sizeof(line) - (size_t)n - 1, msg);
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w; /* nowhere left to report a failed log write */
}

void log_msg(enum log_level level, const char *component, const char *fmt, ...)
{
    if (!log_enabled(level)) return;
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, component, fmt, ap);
    va_end(ap);
}

void log_complain(struct complaint *c, enum log_level level, const char *component, const char *fmt,
                  ...)
{
    if (c->active) {
        c->repeats++;
        return;
    }
    c->active = true;
    c->repeats = 0;
    if (!log_enabled(level)) return;
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, component, fmt, ap);
    va_end(ap);
}

void log_complain_clear(struct complaint *c, const char *component, const char *fmt, ...)
{
    if (!c->active) return;
    c->active = false;
    if (!log_enabled(LOG_INFO)) return;
    char msg[1800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_msg(LOG_INFO, component, "%s (after %llu repeats)", msg, (unsigned long long)c->repeats);
}
