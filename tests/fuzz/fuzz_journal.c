/* fuzz_journal.c: arbitrary bytes as a journal file found at open (exporter/journal.c), as a
 * crash, a bad block or a stray write may leave it, followed by one whole record R. Invariants:
 * replay never fails on content; every record it hands over is really in the file where it says
 * (its type, id and data at its offset), in order and without overlap; R, after whatever damage,
 * is handed over last unless a record taken before it spans R's start (a record whose length
 * covers R, which needs a forged CRC); the file then ends after the last record (a torn tail is
 * cut); a second open finds the same records and nothing torn; and a compaction keeping every
 * record replays as the same records with nothing damaged. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "journal.h"
#include "log.h"
#include "xalloc.h"

#define MAGIC    0x4c4e524au
#define MAX_DATA 4096

static char *dir;
static const char r_data[] = "the record after the damage";

struct seen {
    const uint8_t *file; /* what was written, to check each record against */
    size_t size;
    struct buf sig; /* "off:type:id:len " per record */
    uint64_t end;   /* end of the last record */
    int overlaps_r; /* a record spans R's start */
    uint64_t r_off;
    int last_is_r;
    struct journal_rec *recs; /* copies, for the compaction */
    char **datas;
    size_t n;
};

static int on_record(void *arg, const struct journal_rec *r)
{
    struct seen *s = arg;
    uint64_t size = JOURNAL_HEADER + r->len;
    if (r->off < s->end || r->off + size > s->size) abort();
    const uint8_t *h = s->file + r->off;
    if (h[4] != r->type || memcmp(h + JOURNAL_HEADER, r->data, r->len) != 0) abort();
    s->end = r->off + size;
    if (r->off < s->r_off && r->off + size > s->r_off) s->overlaps_r = 1;
    s->last_is_r = r->off == s->r_off && r->len == sizeof(r_data) - 1 &&
                   memcmp(r->data, r_data, r->len) == 0 && r->id == 77 && r->type == 9;
    buf_printf(&s->sig, "%llu:%u:%llu:%zu ", (unsigned long long)r->off, r->type,
               (unsigned long long)r->id, r->len);
    s->recs = xrealloc(s->recs, (s->n + 1) * sizeof(*s->recs));
    s->datas = xrealloc(s->datas, (s->n + 1) * sizeof(*s->datas));
    s->datas[s->n] = xmalloc(r->len + 1);
    memcpy(s->datas[s->n], r->data, r->len);
    s->recs[s->n] = *r;
    s->recs[s->n].data = s->datas[s->n];
    s->n++;
    return 0;
}

static void live(void *arg, size_t i, struct journal_rec *r)
{
    const struct seen *s = arg;
    *r = s->recs[i];
}

static void seen_free(struct seen *s)
{
    for (size_t i = 0; i < s->n; i++) free(s->datas[i]);
    free(s->datas);
    free(s->recs);
    buf_free(&s->sig);
}

/* The bytes of R, made by the journal itself once. */
static void make_r(const char *path, struct buf *out)
{
    struct journal_opts o = {.path = path, .magic = MAGIC, .max_data = MAX_DATA};
    char err[256];
    unlink(path);
    struct journal *j = journal_open(&o, NULL, NULL, NULL, err, sizeof(err));
    struct journal_rec r = {.type = 9, .id = 77, .data = r_data, .len = sizeof(r_data) - 1};
    if (!j || journal_append(j, &r, err, sizeof(err)) < 0) abort();
    journal_free(j);
    char buf[256];
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, sizeof(buf), f) : 0;
    if (f) fclose(f);
    buf_append(out, buf, n);
}

static struct journal *open_seen(const char *path, struct seen *s, const uint8_t *file, size_t size,
                                 uint64_t r_off, struct journal_found *found)
{
    memset(s, 0, sizeof(*s));
    s->file = file;
    s->size = size;
    s->r_off = r_off;
    buf_init(&s->sig, 1 << 20);
    struct journal_opts o = {.path = NULL, .magic = MAGIC, .max_data = MAX_DATA};
    char err[512];
    o.path = path;
    struct journal *j = journal_open(&o, on_record, s, found, err, sizeof(err));
    if (!j) abort();
    return j;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct buf r_bytes;
    if (!dir) {
        char tmpl[] = "/tmp/drwatch-fuzz-journal-XXXXXX";
        dir = xstrdup(mkdtemp(tmpl));
        DRW_IGNORE(log_set_level_name("error")); /* a fixed, valid name */
        char *p = xasprintf("%s/r", dir);
        buf_init(&r_bytes, 1 << 20);
        make_r(p, &r_bytes);
        free(p);
    }
    char *path = xasprintf("%s/j.log", dir);
    uint8_t *file = xmalloc(size + r_bytes.len);
    if (size) memcpy(file, data, size);
    memcpy(file + size, r_bytes.data, r_bytes.len);
    size_t fsize = size + r_bytes.len;
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(file, 1, fsize, f) != fsize) abort();
    fclose(f);

    struct seen s1, s2;
    struct journal_found found1, found2;
    struct journal *j = open_seen(path, &s1, file, fsize, size, &found1);
    if (!s1.last_is_r && !s1.overlaps_r) abort(); /* an intact record after damage is lost */
    struct stat st;
    if (stat(path, &st) != 0 || (uint64_t)st.st_size != s1.end || journal_size(j) != s1.end)
        abort();
    if (found1.torn_bytes != fsize - s1.end) abort();
    journal_free(j);

    j = open_seen(path, &s2, file, fsize, size, &found2);
    if (strcmp(s1.sig.data ? s1.sig.data : "", s2.sig.data ? s2.sig.data : "") != 0 ||
        found2.torn_bytes != 0 || found2.corrupt != found1.corrupt)
        abort();
    char err[512];
    if (journal_compact(j, s2.n, live, &s2, err, sizeof(err)) < 0) abort();
    journal_free(j);
    struct journal_found found3;
    struct journal_opts o = {.path = path, .magic = MAGIC, .max_data = MAX_DATA};
    j = journal_open(&o, NULL, NULL, &found3, err, sizeof(err));
    if (!j || found3.records != s2.n || found3.corrupt || found3.torn_bytes) abort();
    journal_free(j);
    seen_free(&s1);
    seen_free(&s2);
    free(file);
    unlink(path);
    free(path);
    return 0;
}
