/* promregex.h: Prometheus label regexes (RE2 syntax) on POSIX regcomp (see promregex.c). */
#ifndef DRWATCH_PROMREGEX_H
#define DRWATCH_PROMREGEX_H

#include <regex.h>
#include <stddef.h>

#include "xalloc.h"

/* Compiles pattern, anchored at both ends as PromQL and Alertmanager anchor it, into re
 * (REG_EXTENDED | REG_NOSUB; free with regfree). Returns 0, or -1 with why in err. */
DRW_MUST_CHECK int promregex_compile(regex_t *re, const char *pattern, char *err, size_t errlen);

#endif
