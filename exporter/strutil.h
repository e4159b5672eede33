/* strutil.h: small string predicates. */
#ifndef DRWATCH_STRUTIL_H
#define DRWATCH_STRUTIL_H

#include <stdbool.h>

bool str_has_prefix(const char *s, const char *prefix);
bool str_has_suffix(const char *s, const char *suffix);

#endif
