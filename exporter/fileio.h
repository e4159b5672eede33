/* fileio.h: reading small files whole, with a cap. */
#ifndef DRWATCH_FILEIO_H
#define DRWATCH_FILEIO_H

#include <stddef.h>

#include "xalloc.h"

/* Reads a whole small file (secrets, /proc) into a malloc'd NUL-terminated string, capped
 * at max bytes (a CAP_... of caps.h; 0 is a programming error, as for buf_init). Returns 0,
 * -errno, or -E2BIG when the file is larger. */
DRW_MUST_CHECK int file_read_all(const char *path, size_t max, char **out, size_t *len);
/* A file_read_all error as a phrase for a message: "larger than 16 KiB" for -E2BIG (max in
 * KiB or MiB), else strerror. Returns out (or strerror's text). */
const char *file_read_error(int rc, size_t max, char *out, size_t outlen);

#endif
