/* fileio.h: reading small files whole, with a cap. */
#ifndef DRWATCH_FILEIO_H
#define DRWATCH_FILEIO_H

#include <stddef.h>

/* Reads a whole small file (secrets, /proc) into a malloc'd NUL-terminated string, capped
 * at max bytes. Returns 0, -errno, or -E2BIG. */
int file_read_all(const char *path, size_t max, char **out, size_t *len);

#endif
