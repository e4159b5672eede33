/* fileio.c: reading a small file whole (see fileio.h). */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
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
        if (max && b.len == max) {
            char probe;
            ssize_t r;
            do r = read(fd, &probe, 1);
            while (r < 0 && errno == EINTR);
            rc = r > 0 ? -E2BIG : (r < 0 ? -errno : 0);
            break;
        }
        if (max && want > max - b.len) want = max - b.len;
        buf_reserve(&b, want); /* cannot fail: want fits under max */
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
