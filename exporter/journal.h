/* journal.h: an append-only file of framed records, each on disk (fsynced) before
 * journal_append returns, replayed at open, and compacted to the records still live.
 *
 * A record is a 24-byte header and its data. The header holds, little-endian: the journal's
 * magic (u32), the record's type (u8, the caller's), three zero bytes, the data's length (u32),
 * the CRC-32 of the whole record with this field zeroed (u32) and an id (u64, the caller's).
 * (This is the outbox log's format from before the journal existed, so old logs replay as they
 * are.)
 *
 * Replay tells two kinds of damage apart. Appends are fsynced one after the other, so a crash
 * can tear only the last record: bytes at the end after which no whole record follows are a
 * torn tail, and are cut off. Bytes that do not check out but are followed by a whole record
 * are corruption (a bad block, a stray write): they are skipped, counted and logged, and the
 * records after them are kept. The next record after damage is found by searching for the
 * magic and checking the length and CRC at each hit; so if a record's data holds the bytes of a
 * whole record of the same journal and that record's header is damaged, the inner bytes are
 * taken for a record (its id and type are the caller's to check).
 *
 * Caps: a record's data is at most max_data bytes (append refuses more; replay takes a longer
 * length for damage). Replay reads record by record, so memory stays within max_data whatever
 * the file's size.
 *
 * Ownership: the journal owns its descriptor and copies what it is given. One thread. */
#ifndef DRWATCH_JOURNAL_H
#define DRWATCH_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "durable.h"

#define JOURNAL_HEADER 24

struct journal_rec {
    unsigned type; /* 0..255 */
    uint64_t id;
    const void *data;
    size_t len;
    uint64_t off; /* replay only: where the record starts in the file */
};

struct journal_opts {
    const char *path;            /* created (mode 0600) if missing; its directory must exist */
    uint32_t magic;              /* tells this journal's records from other bytes */
    size_t max_data;             /* cap on one record's data */
    const struct durable_io *io; /* NULL: durable_sys */
};

/* What replay found. */
struct journal_found {
    size_t records;         /* handed to the callback and kept by it */
    size_t corrupt;         /* damaged spans skipped, and records the callback refused */
    uint64_t corrupt_bytes; /* in the skipped spans and the refused records */
    uint64_t torn_bytes;    /* cut off the end */
};

/* Called at replay for each whole record, in file order; r and its data live only during the
 * call. Returns 0 to take the record, or -1 for one that checks out but that the caller cannot
 * use (counted and logged as corrupt). */
typedef int (*journal_record_fn)(void *arg, const struct journal_rec *r);

/* Fills *r with the i-th live record (0 <= i < n) for journal_compact; data must stay valid
 * until the next call. */
typedef void (*journal_live_fn)(void *arg, size_t i, struct journal_rec *r);

struct journal;

/* Opens (or creates) o->path and replays it through fn (may be NULL), filling *found (may be
 * NULL); a torn tail is cut off the file before it returns. Damage is never an error; I/O
 * errors are. Returns NULL with err filled on an I/O error. */
struct journal *journal_open(const struct journal_opts *o, journal_record_fn fn, void *arg,
                             struct journal_found *found, char *err, size_t errlen);
/* Closes. NULL-safe. */
void journal_free(struct journal *j);

/* Appends r (type, id, data, len) and fdatasyncs it. Returns 0: the record is on disk.
 * -E2BIG for data over max_data; -errno with err filled for a failed write or sync (the file is
 * cut back, and a part of the record left on disk is overwritten by the next append or cut as
 * a torn tail by the next replay). */
int journal_append(struct journal *j, const struct journal_rec *r, char *err, size_t errlen);

/* Rewrites the file with only the n live records that fn gives, through durable_tmp (a crash
 * leaves the old file or the new one); n == 0 truncates the file instead. Returns 0, or -errno
 * with err filled: then the journal appends to whichever file bears the name (the old one when
 * the rename did not happen), never to a file no longer in the directory. */
int journal_compact(struct journal *j, size_t n, journal_live_fn fn, void *arg, char *err,
                    size_t errlen);

/* Bytes of whole records in the file (where the next append goes). */
uint64_t journal_size(const struct journal *j);
/* The size on disk of a record with len bytes of data. */
size_t journal_record_size(size_t len);

#endif
