/* durable.h: files that a crash leaves whole. A file is replaced by writing a temp file beside
 * it, fsyncing it, renaming it over the name and fsyncing the directory: after a crash at any
 * point the name holds the old content or the new one, never a mix, and once the call returned
 * 0 the new content survives a power cut too. (journal.h builds its compaction on this.)
 *
 * Every system call goes through a struct durable_io, so that a test can fail or crash any one
 * of them (tests/unit/test_durable.c); everything else passes NULL or uses the wrappers without
 * an io argument, which mean durable_sys, the plain system calls. */
#ifndef DRWATCH_DURABLE_H
#define DRWATCH_DURABLE_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* The system calls the durable files use; each gets ctx first, and returns what the system
 * call returns, with errno set on failure. */
struct durable_io {
    int (*open)(void *ctx, const char *path, int flags, mode_t mode);
    int (*close)(void *ctx, int fd);
    ssize_t (*pread)(void *ctx, int fd, void *p, size_t n, off_t off);
    ssize_t (*pwrite)(void *ctx, int fd, const void *p, size_t n, off_t off);
    int (*fsync)(void *ctx, int fd);
    int (*fdatasync)(void *ctx, int fd);
    int (*ftruncate)(void *ctx, int fd, off_t len);
    int (*fstat)(void *ctx, int fd, struct stat *st);
    int (*rename)(void *ctx, const char *from, const char *to);
    int (*unlink)(void *ctx, const char *path);
    int (*mkdir)(void *ctx, const char *path, mode_t mode);
    void *ctx;
};

/* The plain system calls (ctx unused). */
extern const struct durable_io durable_sys;

/* A new file being written, which replaces its name at commit. */
struct durable_tmp;

/* Starts replacing path: creates path.tmp (mode 0600; a leftover from a crash is truncated).
 * io NULL: durable_sys. Returns 0 with *out set, or -errno with err filled. */
int durable_tmp_open(const struct durable_io *io, const char *path, struct durable_tmp **out,
                     char *err, size_t errlen);
/* Appends data to the new file. Returns 0, or -errno with err filled (t stays usable for
 * durable_tmp_abort). */
int durable_tmp_write(struct durable_tmp *t, const void *data, size_t len, char *err,
                      size_t errlen);
/* Makes the new file the content of path: fsync, rename over path, fsync of the directory.
 * Frees t in every case. With fd_out NULL the file is closed; otherwise *fd_out receives its
 * descriptor (read-write, the caller owns it) once the rename is done, and -1 when it is not.
 * Returns 0: path holds the new content durably. -errno with err filled and *fd_out == -1:
 * nothing changed (path keeps the old content, the temp file is removed). -errno with *fd_out
 * >= 0: path holds the new content, but the directory's fsync failed, so a crash may still
 * bring the old content back (whole) until the directory is synced (durable_dir_sync). */
int durable_tmp_commit(struct durable_tmp *t, int *fd_out, char *err, size_t errlen);
/* Drops the new file; path keeps its content. NULL-safe. */
void durable_tmp_abort(struct durable_tmp *t);

/* Replaces path with data[0..len): durable_tmp_open, _write and _commit in one call. Returns 0
 * (the new content is durable), or -errno with err filled (path holds the old content, or the
 * new one when only the directory's fsync failed; whole either way). */
int durable_replace(const char *path, const void *data, size_t len, char *err, size_t errlen);
int durable_replace_io(const struct durable_io *io, const char *path, const void *data, size_t len,
                       char *err, size_t errlen);

/* fsyncs the directory that holds path (a rename or a new file in it is then durable).
 * Returns 0 or -errno. */
int durable_dir_sync(const struct durable_io *io, const char *path);
/* Creates dir (one level, mode 0700) if it is missing, and then syncs its parent. Returns 0 or
 * -errno. */
int durable_dir_ensure(const struct durable_io *io, const char *dir);

#endif
