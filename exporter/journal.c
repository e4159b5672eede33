/* journal.c: the append-only record file (see journal.h for the format and what replay does
 * with damage).
 *
 * Appends go at the end of the last whole record (pwrite at a known offset, not O_APPEND), so
 * a failed write that could not be cut back is overwritten by the next append instead of
 * sitting between two records. Replay reads one record at a time with pread into one buffer
 * capped at the largest record, and after damage scans forward in fixed chunks for the next
 * record that checks out. Compaction is a durable_tmp whose descriptor becomes the journal's
 * once the rename is done: no reopen after the rename, so nothing can leave the journal
 * appending to a file that is no longer in the directory. Uses durable.h for every system call,
 * zlib's crc32 and the log. */
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "buf.h"
#include "log.h"
#include "xalloc.h"

#define SCAN_CHUNK (64 * 1024) /* bytes read at a time while looking for a record after damage */

struct journal {
    const struct durable_io *io;
    char *path;
    uint32_t magic;
    size_t max_data;
    int fd;
    uint64_t size;     /* end of the last whole record: the next append goes here */
    bool dir_unsynced; /* the file's name is not yet durable in its directory */
    struct buf frame;  /* the record being written */
};

/* Replay's reading state. */
struct reader {
    struct journal *j;
    uint64_t file_size;
    unsigned char *rec; /* one record, header and data */
    size_t rec_cap;
    unsigned char *chunk; /* SCAN_CHUNK bytes, for finding the next record */
};

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* The CRC of a record (header and data) with its CRC field taken as zero. */
static uint32_t record_crc(const unsigned char *h, const unsigned char *data, size_t len)
{
    static const unsigned char zero[4] = {0};
    uLong crc = crc32(0, h, 12);
    crc = crc32(crc, zero, 4);
    crc = crc32(crc, h + 16, JOURNAL_HEADER - 16);
    if (len) crc = crc32(crc, data, (uInt)len);
    return (uint32_t)crc;
}

/* Frames r into out (reset first). */
static void frame(struct buf *out, uint32_t magic, const struct journal_rec *r)
{
    unsigned char h[JOURNAL_HEADER] = {0};
    put_u32(h, magic);
    h[4] = (unsigned char)r->type;
    put_u32(h + 8, (uint32_t)r->len);
    put_u64(h + 16, r->id);
    put_u32(h + 12, record_crc(h, r->data, r->len));
    buf_reset(out);
    buf_append(out, h, sizeof(h));
    if (r->len) buf_append(out, r->data, r->len);
}

size_t journal_record_size(size_t len)
{
    return JOURNAL_HEADER + len;
}

uint64_t journal_size(const struct journal *j)
{
    return j->size;
}

/* ---- replay ---- */

/* Reads n bytes at off; a short read (the end of the file) is an error of its own: 1. */
static int read_at(const struct journal *j, void *p, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = j->io->pread(j->io->ctx, j->fd, (char *)p + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -errno;
        if (r == 0) return 1;
        got += (size_t)r;
    }
    return 0;
}

/* Whether a whole record that checks out starts at pos: 1 (with *r filled, its data in the
 * reader's buffer), 0 not, or -errno. */
static int record_at(struct reader *rd, uint64_t pos, struct journal_rec *r)
{
    const struct journal *j = rd->j;
    if (rd->file_size - pos < JOURNAL_HEADER) return 0;
    int rc = read_at(j, rd->rec, JOURNAL_HEADER, pos);
    if (rc != 0) return rc < 0 ? rc : 0;
    size_t len = get_u32(rd->rec + 8);
    if (get_u32(rd->rec) != j->magic || len > j->max_data ||
        rd->file_size - pos - JOURNAL_HEADER < len)
        return 0;
    if (JOURNAL_HEADER + len > rd->rec_cap) {
        rd->rec_cap = JOURNAL_HEADER + len;
        rd->rec = xrealloc(rd->rec, rd->rec_cap);
    }
    rc = len ? read_at(j, rd->rec + JOURNAL_HEADER, len, pos + JOURNAL_HEADER) : 0;
    if (rc != 0) return rc < 0 ? rc : 0;
    if (record_crc(rd->rec, rd->rec + JOURNAL_HEADER, len) != get_u32(rd->rec + 12)) return 0;
    *r = (struct journal_rec){.type = rd->rec[4],
                              .id = get_u64(rd->rec + 16),
                              .data = rd->rec + JOURNAL_HEADER,
                              .len = len,
                              .off = pos};
    return 1;
}

/* The start of the first record that checks out after from: 1 with *next set, 0 when none
 * follows, or -errno. */
static int next_record(struct reader *rd, uint64_t from, uint64_t *next)
{
    unsigned char magic[4];
    put_u32(magic, rd->j->magic);
    struct journal_rec r;
    while (from + JOURNAL_HEADER <= rd->file_size) {
        uint64_t left = rd->file_size - from;
        size_t n = left < SCAN_CHUNK ? (size_t)left : SCAN_CHUNK;
        int rc = read_at(rd->j, rd->chunk, n, from);
        if (rc != 0) return rc < 0 ? rc : 0;
        for (size_t i = 0; i + 4 <= n; i++) {
            if (memcmp(rd->chunk + i, magic, 4) != 0) continue;
            rc = record_at(rd, from + i, &r);
            if (rc < 0) return rc;
            if (rc == 1) {
                *next = from + i;
                return 1;
            }
        }
        from += n - 3; /* a magic across the chunk's end is seen in the next one */
    }
    return 0;
}

/* Hands one whole record to fn and counts it. */
static void take(struct journal *j, const struct journal_rec *r, journal_record_fn fn, void *arg,
                 struct journal_found *found)
{
    if (!fn || fn(arg, r) == 0) {
        found->records++;
        return;
    }
    found->corrupt++;
    found->corrupt_bytes += journal_record_size(r->len);
    log_warn("journal",
             "%s: the record at offset %llu (type %u, id %llu) checks out but makes no sense "
             "here: skipped as corruption",
             j->path, (unsigned long long)r->off, r->type, (unsigned long long)r->id);
}

/* Cuts the torn tail off at pos. */
static int cut_tail(struct journal *j, uint64_t pos, uint64_t file_size, char *err, size_t errlen)
{
    log_warn("journal",
             "%s: cut off %llu bytes after the last whole record (a write cut by a crash)", j->path,
             (unsigned long long)(file_size - pos));
    if (j->io->ftruncate(j->io->ctx, j->fd, (off_t)pos) < 0 ||
        j->io->fdatasync(j->io->ctx, j->fd) < 0) {
        int rc = -errno;
        snprintf(err, errlen, "%s: cannot cut off a torn record: %s", j->path, strerror(-rc));
        return rc;
    }
    return 0;
}

static int replay(struct journal *j, journal_record_fn fn, void *arg, struct journal_found *found,
                  char *err, size_t errlen)
{
    struct stat st;
    if (j->io->fstat(j->io->ctx, j->fd, &st) < 0) {
        int rc = -errno;
        snprintf(err, errlen, "%s: cannot stat: %s", j->path, strerror(-rc));
        return rc;
    }
    struct reader rd = {.j = j, .file_size = (uint64_t)st.st_size};
    rd.rec_cap = JOURNAL_HEADER;
    rd.rec = xmalloc(rd.rec_cap);
    rd.chunk = xmalloc(SCAN_CHUNK);
    uint64_t pos = 0, next = 0;
    int rc = 0;
    while (pos < rd.file_size) {
        struct journal_rec r;
        rc = record_at(&rd, pos, &r);
        if (rc == 1) {
            take(j, &r, fn, arg, found);
            pos += journal_record_size(r.len);
            continue;
        }
        if (rc == 0) rc = next_record(&rd, pos + 1, &next);
        if (rc <= 0) break; /* an I/O error, or nothing whole after pos: a torn tail */
        found->corrupt++;
        found->corrupt_bytes += next - pos;
        log_warn("journal",
                 "%s: %llu bytes at offset %llu do not check out, but whole records follow: "
                 "skipped as corruption (a crash tears only the end)",
                 j->path, (unsigned long long)(next - pos), (unsigned long long)pos);
        pos = next;
    }
    free(rd.rec);
    free(rd.chunk);
    if (rc < 0) {
        snprintf(err, errlen, "%s: cannot read: %s", j->path, strerror(-rc));
        return rc;
    }
    j->size = pos;
    found->torn_bytes = rd.file_size - pos;
    return pos < rd.file_size ? cut_tail(j, pos, rd.file_size, err, errlen) : 0;
}

/* ---- the interface ---- */

struct journal *journal_open(const struct journal_opts *o, journal_record_fn fn, void *arg,
                             struct journal_found *found, char *err, size_t errlen)
{
    struct journal *j = xcalloc(1, sizeof(*j));
    struct journal_found scratch;
    if (!found) found = &scratch;
    memset(found, 0, sizeof(*found));
    j->io = o->io ? o->io : &durable_sys;
    j->path = xstrdup(o->path);
    j->magic = o->magic;
    j->max_data = o->max_data;
    buf_init(&j->frame, JOURNAL_HEADER + o->max_data);
    j->fd = j->io->open(j->io->ctx, j->path, O_RDWR | O_CLOEXEC, 0);
    if (j->fd < 0 && errno == ENOENT) {
        j->fd = j->io->open(j->io->ctx, j->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        /* The new name must be durable before anything appended to the file counts. */
        j->dir_unsynced = j->fd >= 0 && durable_dir_sync(j->io, j->path) < 0;
    }
    if (j->fd < 0) {
        snprintf(err, errlen, "%s: cannot open: %s", j->path, strerror(errno));
        goto fail;
    }
    if (replay(j, fn, arg, found, err, errlen) < 0) goto fail;
    return j;
fail:
    journal_free(j);
    return NULL;
}

void journal_free(struct journal *j)
{
    if (!j) return;
    if (j->fd >= 0) j->io->close(j->io->ctx, j->fd);
    buf_free(&j->frame);
    free(j->path);
    free(j);
}

/* Writes all of p at off. */
static int write_at(const struct journal *j, int fd, const void *p, size_t n, uint64_t off)
{
    const char *c = p;
    while (n) {
        ssize_t w = j->io->pwrite(j->io->ctx, fd, c, n, (off_t)off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return w < 0 ? -errno : -EIO;
        c += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

int journal_append(struct journal *j, const struct journal_rec *r, char *err, size_t errlen)
{
    if (r->len > j->max_data) {
        snprintf(err, errlen, "%s: a record of %zu bytes is over the cap of %zu", j->path, r->len,
                 j->max_data);
        return -E2BIG;
    }
    if (j->dir_unsynced) {
        int rc = durable_dir_sync(j->io, j->path);
        if (rc < 0) {
            snprintf(err, errlen, "%s: cannot fsync its directory: %s", j->path, strerror(-rc));
            return rc;
        }
        j->dir_unsynced = false;
    }
    frame(&j->frame, j->magic, r);
    int rc = write_at(j, j->fd, j->frame.data, j->frame.len, j->size);
    if (rc == 0 && j->io->fdatasync(j->io->ctx, j->fd) < 0) rc = -errno;
    if (rc < 0) {
        snprintf(err, errlen, "%s: cannot write: %s", j->path, strerror(-rc));
        /* Best effort: what is left is overwritten by the next append or cut at replay. */
        (void)j->io->ftruncate(j->io->ctx, j->fd, (off_t)j->size);
        return rc;
    }
    j->size += j->frame.len;
    return 0;
}

/* An empty journal: truncating in place is atomic (the old size or 0) and costs one sync. */
static int truncate_all(struct journal *j, char *err, size_t errlen)
{
    if (j->io->ftruncate(j->io->ctx, j->fd, 0) < 0 || j->io->fdatasync(j->io->ctx, j->fd) < 0) {
        int rc = -errno;
        snprintf(err, errlen, "%s: cannot truncate: %s", j->path, strerror(-rc));
        return rc;
    }
    j->size = 0;
    return 0;
}

int journal_compact(struct journal *j, size_t n, journal_live_fn fn, void *arg, char *err,
                    size_t errlen)
{
    if (n == 0) return truncate_all(j, err, errlen);
    struct durable_tmp *t;
    int rc = durable_tmp_open(j->io, j->path, &t, err, errlen);
    if (rc < 0) return rc;
    uint64_t size = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct journal_rec r = {0};
        fn(arg, i, &r);
        if (r.len > j->max_data) {
            snprintf(err, errlen, "%s: a live record of %zu bytes is over the cap", j->path, r.len);
            rc = -E2BIG;
            break;
        }
        frame(&j->frame, j->magic, &r);
        rc = durable_tmp_write(t, j->frame.data, j->frame.len, err, errlen);
        size += j->frame.len;
    }
    if (rc < 0) {
        durable_tmp_abort(t);
        return rc;
    }
    int fd;
    rc = durable_tmp_commit(t, &fd, err, errlen);
    if (fd >= 0) { /* renamed: the new file is the journal now, even if its name is not durable */
        j->io->close(j->io->ctx, j->fd);
        j->fd = fd;
        j->size = size;
        j->dir_unsynced = rc < 0;
    }
    return rc;
}
