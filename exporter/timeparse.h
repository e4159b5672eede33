/* timeparse.h: the date-time texts that upstream APIs hand us, turned into Unix seconds
 * without touching the process time zone (no mktime, no TZ):
 *
 *   RFC 3339 (Kubernetes, Tekton)      2024-06-10T09:41:17Z, 2024-06-10T09:41:17.5+02:00
 *   Python isoformat, naive (the old   2022-05-17T22:45:04.591398   (read as UTC)
 *     switchover agent's ConfigMap)
 *   Ruby Time#to_s (FluentD retry)     2024-06-10 09:41:02 +0000, 2024-06-10 09:41:02 UTC
 *
 * The date and time may be separated by 'T', 't' or one space; the zone is 'Z', "UTC",
 * +HH:MM or +HHMM, optionally after one space. */
#ifndef DRWATCH_TIMEPARSE_H
#define DRWATCH_TIMEPARSE_H

#include <stddef.h>

#include "xalloc.h"

/* Accept a text without a zone and read it as UTC (Python's naive datetime). */
#define TIMEPARSE_NAIVE_UTC 1u

/* Parses s[0..n) whole into seconds since the epoch (fractions kept). Returns 0, or -EINVAL
 * for anything else: trailing bytes, an impossible date (2023-02-29), a missing zone without
 * TIMEPARSE_NAIVE_UTC. */
DRW_MUST_CHECK int timeparse_iso(const char *s, size_t n, unsigned flags, double *out);

#endif
