/* durable.c: crash-safe replacement of files (see durable.h).
 *
 * The order is what makes it safe: the temp file's data is fsynced before the rename, so the
 * name never points at a file whose data has not reached the disk; the directory is fsynced
 * after the rename, so the new name survives a power cut once commit returns 0. The temp file
 * lives in the same directory (a rename is atomic only within one file system). Every system
 * call goes through the io table, so tests can fail or crash each step; nothing else here. */
#include "durable.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xalloc.h"

struct durable_tmp {
    const struct durable_io *io;
    char *path, *tmp;
    int fd;
    off_t len;
};

/* ---- the system calls ---- */

static int sys_open(void *ctx, const char *path, int flags, mode_t mode)
{
    (void)ctx;
    return open(path, flags, mode);
}

static int sys_close(void *ctx, int fd)
{
    (void)ctx;
    return close(fd);
}

static ssize_t sys_pread(void *ctx, int fd, void *p, size_t n, off_t off)
{
    (void)ctx;
    return pread(fd, p, n, off);
}

static ssize_t sys_pwrite(void *ctx, int fd, const void *p, size_t n, off_t off)
{
    (void)ctx;
    return pwrite(fd, p, n, off);
}

static int sys_fsync(void *ctx, int fd)
{
    (void)ctx;
    return fsync(fd);
}

static int sys_fdatasync(void *ctx, int fd)
{
    (void)ctx;
    return fdatasync(fd);
}

static int sys_ftruncate(void *ctx, int fd, off_t len)
{
    (void)ctx;
    return ftruncate(fd, len);
}

static int sys_fstat(void *ctx, int fd, struct stat *st)
{
    (void)ctx;
    return fstat(fd, st);
}

static int sys_rename(void *ctx, const char *from, const char *to)
{
    (void)ctx;
    return rename(from, to);
}

static int sys_unlink(void *ctx, const char *path)
{
    (void)ctx;
    return unlink(path);
}

static int sys_mkdir(void *ctx, const char *path, mode_t mode)
{
    (void)ctx;
    return mkdir(path, mode);
}

const struct durable_io durable_sys = {
    .open = sys_open,
    .close = sys_close,
    .pread = sys_pread,
    .pwrite = sys_pwrite,
    .fsync = sys_fsync,
    .fdatasync = sys_fdatasync,
    .ftruncate = sys_ftruncate,
    .fstat = sys_fstat,
    .rename = sys_rename,
    .unlink = sys_unlink,
    .mkdir = sys_mkdir,
    .ctx = NULL,
};

/* ---- directories ---- */

int durable_dir_sync(const struct durable_io *io, const char *path)
{
    if (!io) io = &durable_sys;
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    const char *name = slash ? (slash == dir ? "/" : dir) : ".";
    int rc = 0, fd = io->open(io->ctx, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd < 0) rc = -errno;
    if (fd >= 0 && io->fsync(io->ctx, fd) < 0) rc = -errno;
    if (fd >= 0) io->close(io->ctx, fd);
    free(dir);
    return rc;
}

int durable_dir_ensure(const struct durable_io *io, const char *dir)
{
    if (!io) io = &durable_sys;
    if (io->mkdir(io->ctx, dir, 0700) < 0) return errno == EEXIST ? 0 : -errno;
    return durable_dir_sync(io, dir); /* the new directory's name is in its parent */
}

/* ---- replacing a file ---- */

int durable_tmp_open(const struct durable_io *io, const char *path, struct durable_tmp **out,
                     char *err, size_t errlen)
{
    if (!io) io = &durable_sys;
    struct durable_tmp *t = xcalloc(1, sizeof(*t));
    t->io = io;
    t->path = xstrdup(path);
    t->tmp = xasprintf("%s.tmp", path);
    t->fd = io->open(io->ctx, t->tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (t->fd < 0) {
        int rc = -errno;
        snprintf(err, errlen, "%s: cannot create: %s", t->tmp, strerror(-rc));
        free(t->path);
        free(t->tmp);
        free(t);
        *out = NULL;
        return rc;
    }
    *out = t;
    return 0;
}

int durable_tmp_write(struct durable_tmp *t, const void *data, size_t len, char *err, size_t errlen)
{
    const char *p = data;
    while (len) {
        ssize_t w = t->io->pwrite(t->io->ctx, t->fd, p, len, t->len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int rc = w < 0 ? -errno : -EIO; /* 0 bytes for a non-empty write: never loop */
            snprintf(err, errlen, "%s: cannot write: %s", t->tmp, strerror(-rc));
            return rc;
        }
        p += w;
        len -= (size_t)w;
        t->len += w;
    }
    return 0;
}

static void tmp_free(struct durable_tmp *t)
{
    free(t->path);
    free(t->tmp);
    free(t);
}

void durable_tmp_abort(struct durable_tmp *t)
{
    if (!t) return;
    if (t->fd >= 0) t->io->close(t->io->ctx, t->fd);
    t->io->unlink(t->io->ctx, t->tmp);
    tmp_free(t);
}

int durable_tmp_commit(struct durable_tmp *t, int *fd_out, char *err, size_t errlen)
{
    const struct durable_io *io = t->io;
    const char *step = "fsync";
    int rc = io->fsync(io->ctx, t->fd) < 0 ? -errno : 0;
    if (rc == 0 && !fd_out) {
        step = "close";
        int fd = t->fd;
        t->fd = -1; /* closed even when close fails */
        if (io->close(io->ctx, fd) < 0) rc = -errno;
    }
    if (rc == 0) {
        step = "rename into place";
        if (io->rename(io->ctx, t->tmp, t->path) < 0) rc = -errno;
    }
    if (fd_out) *fd_out = -1;
    if (rc < 0) {
        snprintf(err, errlen, "%s: cannot %s: %s", t->tmp, step, strerror(-rc));
        durable_tmp_abort(t);
        return rc;
    }
    /* Renamed: from here the new file is the content of path, whatever fails. */
    if (fd_out) *fd_out = t->fd;
    rc = durable_dir_sync(io, t->path);
    if (rc < 0)
        snprintf(err, errlen, "%s: replaced, but cannot fsync its directory: %s", t->path,
                 strerror(-rc));
    tmp_free(t);
    return rc;
}

int durable_replace_io(const struct durable_io *io, const char *path, const void *data, size_t len,
                       char *err, size_t errlen)
{
    struct durable_tmp *t;
    int rc = durable_tmp_open(io, path, &t, err, errlen);
    if (rc < 0) return rc;
    rc = durable_tmp_write(t, data, len, err, errlen);
    if (rc < 0) {
        durable_tmp_abort(t);
        return rc;
    }
    return durable_tmp_commit(t, NULL, err, errlen);
}

int durable_replace(const char *path, const void *data, size_t len, char *err, size_t errlen)
{
    return durable_replace_io(NULL, path, data, len, err, errlen);
}
