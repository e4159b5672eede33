/* datadir.h: files in the alert manager's data_dir, written so that a crash leaves either the
 * old or the new content: a temp file in the same directory, fsync, rename over the name,
 * fsync of the directory. */
#ifndef DRWATCH_DATADIR_H
#define DRWATCH_DATADIR_H

#include <stddef.h>

/* Creates dir (one level, mode 0700) if it is missing. Returns 0 or -errno. */
int datadir_ensure(const char *dir);
/* Replaces path with data[0..len) atomically and durably. Returns 0, or -errno with err
 * filled. */
int datadir_write_atomic(const char *path, const char *data, size_t len, char *err, size_t errlen);

#endif
