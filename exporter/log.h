/* log.h: logfmt lines on stderr, and the "complain" helper for failures that repeat.
 *
 * Every line reads: ts=<RFC3339 UTC ms> level=<level> component=<who> msg="<text>".
 * One write(2) per line, so lines from different threads never interleave. */
#ifndef DRWATCH_LOG_H
#define DRWATCH_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "xalloc.h"

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Sets the lowest level written. Called once by main before any thread starts. Returns 0, or
 * -EINVAL when name is not debug, info, warn or error. */
DRW_MUST_CHECK int log_set_level_name(const char *name);
bool log_enabled(enum log_level level);

void log_msg(enum log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(c, ...) log_msg(LOG_DEBUG, c, __VA_ARGS__)
#define log_info(c, ...)  log_msg(LOG_INFO, c, __VA_ARGS__)
#define log_warn(c, ...)  log_msg(LOG_WARN, c, __VA_ARGS__)
#define log_error(c, ...) log_msg(LOG_ERROR, c, __VA_ARGS__)

/* A failure that repeats every cycle is logged when it starts and when it clears, not every
 * time (collectd's c_complain). One struct complaint per thing that can fail; zero it to start. */
struct complaint {
    bool active;
    uint64_t repeats;
};

/* Logs at `level` only when the complaint was not already active; otherwise counts. */
void log_complain(struct complaint *c, enum log_level level, const char *component, const char *fmt,
                  ...) __attribute__((format(printf, 4, 5)));
/* Logs at info, once, that the failure cleared (with how often it repeated), if it was active. */
void log_complain_clear(struct complaint *c, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
