/* numtext.h: numbers as Prometheus writes and reads them: sample values in the exposition
 * formats' text, and durations ("1m30s"). */
#ifndef DRWATCH_NUMTEXT_H
#define DRWATCH_NUMTEXT_H

#include <stddef.h>
#include <stdint.h>

#include "xalloc.h"

/* Writes v in Prometheus text form ("NaN", "+Inf", integers without a point, otherwise the
 * shortest text that reads back as the same double). out needs 32 bytes. Returns length. */
size_t fmt_double(char *out, double v);
/* Same, but always with a '.' or an exponent for finite values (OpenMetrics le/quantile). */
size_t fmt_double_canonical(char *out, double v);

/* Parses a Prometheus duration ("15s", "1m30s", "500ms", "2h") into milliseconds.
 * Returns 0, or -EINVAL on bad text. */
DRW_MUST_CHECK int parse_duration_ms(const char *s, int64_t *out_ms);

#endif
