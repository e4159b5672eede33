/* fileio.c: reading a small file whole (see fileio.h). */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"

int file_read_all(const char *path, size_t max, char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    struct buf b;
    buf_init(&b, max);
    int rc = 0;
    for (;;) {
        size_t want = 65536;
        if (b.len == b.max) {
            /* Full: one more byte says whether the file is larger than the cap. */
            char probe;
            ssize_t r;
            do r = read(fd, &probe, 1);
            while (r < 0 && errno == EINTR);
            rc = r > 0 ? -E2BIG : (r < 0 ? -errno : 0);
            break;
        }
        if (want > b.max - b.len) want = b.max - b.len;
        rc = buf_reserve(&b, want); /* want fits under the cap: only a bug fails here */
        if (rc < 0) break;
        ssize_t r = read(fd, b.data + b.len, want);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) rc = -errno;
        if (r <= 0) break;
        b.len += (size_t)r;
        b.data[b.len] = '\0';
    }
    close(fd);
    if (rc < 0) {
        buf_free(&b);
        return rc;
    }
    if (b.data) b.data[b.len] = '\0'; /* an empty file: reserved, never written */
    *out = buf_steal(&b, len);
    return 0;
}

const char *file_read_error(int rc, size_t max, char *out, size_t outlen)
{
    if (rc != -E2BIG) return strerror(-rc);
    if (max >= 1024 * 1024 && max % (1024 * 1024) == 0)
        snprintf(out, outlen, "larger than %zu MiB", max / (1024 * 1024));
    else if (max >= 1024 && max % 1024 == 0)
        snprintf(out, outlen, "larger than %zu KiB", max / 1024);
    else
        snprintf(out, outlen, "larger than %zu bytes", max);
    return out;
}
