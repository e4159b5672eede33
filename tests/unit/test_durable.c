/* test_durable.c: the core's durable files (exporter/durable.c) and journal
 * (exporter/journal.c), through a durable_io that counts every system call and can fail one
 * (EIO) or crash at one (SIGKILL in a forked child, which is what kill -9 or a crash does: the
 * steps before it happened, nothing after). A crash in a write can also tear it: half of the
 * bytes land, then the process dies.
 *
 * What is shown: durable_replace leaves the old or the new content after a crash at any step,
 * and the old one (the new one only once it was renamed) after a failure at any step, and it
 * syncs in the order a power cut needs (file before rename, directory after); a journal
 * append cut by a crash at any step replays as the record or nothing, and a compaction as the
 * old records or the live ones; a failed compaction leaves the journal appending to the file
 * that bears the name; replay cuts a torn tail, and skips and counts damage in the middle
 * while keeping the records after it. A crash model, not a power-cut model: what a power cut
 * does to data written but not yet synced is not simulated, only the order of the syncs. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "durable.h"
#include "fileio.h"
#include "journal.h"
#include "log.h"
#include "tap.h"
#include "xalloc.h"

#define MAGIC     0x4c4e524au /* "JRNL" */
#define MAX_DATA  4096
#define MAX_STEPS 400
#define MAX_FD    1024

/* ---- a durable_io that fails or crashes at one step ---- */

struct fault {
    bool armed; /* steps are counted only while armed */
    int at;     /* the step (1, 2, ...) that fails or crashes; 0: none */
    bool crash; /* crash there (SIGKILL) instead of failing with EIO */
    bool torn;  /* a crash in a pwrite writes half of it first */
    int steps;
    bool renamed;    /* a rename succeeded */
    char failed[32]; /* the step that failed, as traced */
    char trace[4096];
    const char *kind[MAX_FD]; /* per fd: "file", "tmp" or "dir" */
};

enum { GO, FAIL, TEAR };

static int hit(struct fault *f, const char *op, int fd)
{
    if (!f->armed) return GO;
    f->steps++;
    size_t used = strlen(f->trace);
    const char *k = fd >= 0 && fd < MAX_FD && f->kind[fd] ? f->kind[fd] : "";
    snprintf(f->trace + used, sizeof(f->trace) - used, "%s%s%s%s", used ? " " : "", op,
             *k ? ":" : "", k);
    if (f->steps != f->at) return GO;
    snprintf(f->failed, sizeof(f->failed), "%s%s%s", op, *k ? ":" : "", k);
    if (!f->crash) {
        errno = EIO;
        return FAIL;
    }
    if (f->torn && strcmp(op, "pwrite") == 0) return TEAR;
    raise(SIGKILL);
    return FAIL;
}

static int f_open(void *ctx, const char *path, int flags, mode_t mode)
{
    struct fault *f = ctx;
    const char *k = flags & O_DIRECTORY ? "dir" : strstr(path, ".tmp") ? "tmp" : "file";
    int h = hit(f, k, -1); /* an open is traced as the kind of file it opens */
    if (h == FAIL) return -1;
    int fd = open(path, flags, mode);
    if (fd >= 0 && fd < MAX_FD) f->kind[fd] = k;
    return fd;
}

static int f_close(void *ctx, int fd)
{
    int h = hit(ctx, "close", fd);
    int rc = close(fd); /* a failed close still closes */
    if (h == FAIL) return -1;
    return rc;
}

static ssize_t f_pread(void *ctx, int fd, void *p, size_t n, off_t off)
{
    (void)ctx; /* reads change nothing on disk: not steps */
    return pread(fd, p, n, off);
}

static ssize_t f_pwrite(void *ctx, int fd, const void *p, size_t n, off_t off)
{
    int h = hit(ctx, "pwrite", fd);
    if (h == FAIL) return -1;
    if (h == TEAR) {
        if (pwrite(fd, p, n / 2, off) < 0) _exit(3);
        raise(SIGKILL);
    }
    return pwrite(fd, p, n, off);
}

static int f_fsync(void *ctx, int fd)
{
    return hit(ctx, "fsync", fd) == FAIL ? -1 : fsync(fd);
}

static int f_fdatasync(void *ctx, int fd)
{
    return hit(ctx, "fdatasync", fd) == FAIL ? -1 : fdatasync(fd);
}

static int f_ftruncate(void *ctx, int fd, off_t len)
{
    return hit(ctx, "ftruncate", fd) == FAIL ? -1 : ftruncate(fd, len);
}

static int f_fstat(void *ctx, int fd, struct stat *st)
{
    (void)ctx;
    return fstat(fd, st);
}

static int f_rename(void *ctx, const char *from, const char *to)
{
    struct fault *f = ctx;
    if (hit(f, "rename", -1) == FAIL) return -1;
    int rc = rename(from, to);
    if (rc == 0) f->renamed = true;
    return rc;
}

static int f_unlink(void *ctx, const char *path)
{
    return hit(ctx, "unlink", -1) == FAIL ? -1 : unlink(path);
}

static int f_mkdir(void *ctx, const char *path, mode_t mode)
{
    return hit(ctx, "mkdir", -1) == FAIL ? -1 : mkdir(path, mode);
}

static struct durable_io fault_io(struct fault *f)
{
    return (struct durable_io){.open = f_open,
                               .close = f_close,
                               .pread = f_pread,
                               .pwrite = f_pwrite,
                               .fsync = f_fsync,
                               .fdatasync = f_fdatasync,
                               .ftruncate = f_ftruncate,
                               .fstat = f_fstat,
                               .rename = f_rename,
                               .unlink = f_unlink,
                               .mkdir = f_mkdir,
                               .ctx = f};
}

/* Whether the failed step is one whose failure changes nothing: closing a directory or a file
 * already synced and replaced (the callers ignore those, rightly). */
static bool harmless(const struct fault *f)
{
    return strcmp(f->failed, "close:dir") == 0 || strcmp(f->failed, "close:file") == 0;
}

/* Runs op in a child that crashes at step `at` (torn: half a write first). Returns 1 when the
 * child crashed there, 0 when op finished before reaching that step. */
static int crash_at(int at, bool torn, void (*op)(const struct durable_io *io, void *arg),
                    void *arg)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        struct fault *f = xcalloc(1, sizeof(*f));
        *f = (struct fault){.at = at, .crash = true, .torn = torn};
        struct durable_io io = fault_io(f);
        op(&io, arg);
        _exit(0);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid) return -1;
    if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) return 1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* ---- helpers ---- */

static char *tmp_dir(void)
{
    char tmpl[] = "/tmp/drwatch-durable-XXXXXX";
    return xstrdup(mkdtemp(tmpl));
}

static void remove_dir(char *dir)
{
    char *cmd = xasprintf("rm -rf '%s'", dir);
    if (system(cmd) != 0) diag("could not remove %s", dir);
    free(cmd);
    free(dir);
}

static void put_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    if (fp) {
        fputs(text, fp);
        fclose(fp);
    }
}

static char *get_file(const char *path)
{
    char *data;
    size_t len;
    return file_read_all(path, 1 << 24, &data, &len) == 0 ? data : xstrdup("(missing)");
}

static off_t size_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

/* ---- durable_replace ---- */

static const char *OLD_TEXT = "the old content\n";
static char *new_text; /* large enough that a torn write is a visible half */

struct replace_arg {
    const char *path;
};

static void do_replace(const struct durable_io *io, void *arg)
{
    struct replace_arg *a = arg;
    struct fault *f = io->ctx;
    char err[256];
    f->armed = true;
    durable_replace_io(io, a->path, new_text, strlen(new_text), err, sizeof(err));
}

static void test_replace_basics(void)
{
    char *dir = tmp_dir();
    char *path = xasprintf("%s/state.json", dir), *tmp = xasprintf("%s.tmp", path);
    char err[256] = "";
    is_int(durable_replace(path, "one", 3, err, sizeof(err)), 0, "a new file is written");
    char *got = get_file(path);
    is_str(got, "one", "with its content");
    free(got);
    is_int(durable_replace(path, "two!", 4, err, sizeof(err)), 0, "and replaced");
    got = get_file(path);
    is_str(got, "two!", "with the new content");
    free(got);
    ok(access(tmp, F_OK) != 0, "no temp file is left");

    struct fault f = {.armed = true};
    struct durable_io io = fault_io(&f);
    is_int(durable_replace_io(&io, path, "three", 5, err, sizeof(err)), 0, "through a traced io");
    is_str(f.trace, "tmp pwrite:tmp fsync:tmp close:tmp rename dir fsync:dir close:dir",
           "the data is synced before the rename, and the directory after it");

    char *missing = xasprintf("%s/no/such/file", dir);
    ok(durable_replace(missing, "x", 1, err, sizeof(err)) == -ENOENT && strstr(err, "no/such"),
       "a directory that does not exist fails with ENOENT, and says where");
    free(missing);
    free(path);
    free(tmp);
    remove_dir(dir);
}

static void test_replace_crash(void)
{
    char *dir = tmp_dir();
    char *path = xasprintf("%s/state.json", dir);
    struct replace_arg a = {path};
    int crashes = 0, bad = 0, done = 0;
    for (int at = 1; at < MAX_STEPS && !done; at++) {
        for (int torn = 0; torn < 2 && !done; torn++) {
            put_file(path, OLD_TEXT);
            int r = crash_at(at, torn, do_replace, &a);
            if (r < 0) bad++;
            done = r == 0;
            crashes += r == 1;
            char *got = get_file(path);
            if (strcmp(got, OLD_TEXT) != 0 && strcmp(got, new_text) != 0) {
                bad++;
                diag("crash at step %d%s: the file holds %zu bytes, neither old nor new", at,
                     torn ? " (torn write)" : "", strlen(got));
            }
            if (done && strcmp(got, new_text) != 0) bad++;
            free(got);
        }
    }
    ok(done && crashes >= 8, "a crash was tried at every one of the steps (%d runs)", crashes);
    is_int(bad, 0, "after a crash at any step the file holds the old or the new content");
    put_file(path, OLD_TEXT);
    char err[256];
    is_int(durable_replace(path, "after", 5, err, sizeof(err)), 0,
           "a replace after a crash works (a temp file left over is reused)");
    free(path);
    remove_dir(dir);
}

static void test_replace_failure(void)
{
    char *dir = tmp_dir();
    char *path = xasprintf("%s/state.json", dir), *tmp = xasprintf("%s.tmp", path);
    int bad = 0, failures = 0, done = 0;
    for (int at = 1; at < MAX_STEPS && !done; at++) {
        put_file(path, OLD_TEXT);
        struct fault f = {.at = at, .armed = true};
        struct durable_io io = fault_io(&f);
        char err[256] = "";
        int rc = durable_replace_io(&io, path, new_text, strlen(new_text), err, sizeof(err));
        done = f.steps < at;
        failures += !done;
        char *got = get_file(path);
        const char *want = f.renamed ? new_text : OLD_TEXT;
        bool must_fail = !done && !harmless(&f);
        if ((must_fail && (rc >= 0 || !err[0])) || (!must_fail && rc != 0) ||
            strcmp(got, want) != 0 || access(tmp, F_OK) == 0) {
            bad++;
            diag("failure at step %d: rc %d (%s), %s content, temp file %s", at, rc, err,
                 strcmp(got, want) == 0 ? "right" : "wrong", access(tmp, F_OK) ? "gone" : "left");
        }
        free(got);
    }
    ok(done && failures >= 7, "a failure was tried at each step (%d)", failures);
    is_int(bad, 0,
           "a failed step returns an error, removes the temp file and leaves the old content "
           "(the new one once renamed)");
    free(path);
    free(tmp);
    remove_dir(dir);
}

static void test_dir_ensure(void)
{
    char *dir = tmp_dir();
    char *sub = xasprintf("%s/data", dir);
    struct fault f = {.armed = true};
    struct durable_io io = fault_io(&f);
    is_int(durable_dir_ensure(&io, sub), 0, "a missing directory is created");
    is_str(f.trace, "mkdir dir fsync:dir close:dir", "and its parent synced");
    struct stat st;
    ok(stat(sub, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700, "mode 0700");
    is_int(durable_dir_ensure(NULL, sub), 0, "an existing one is fine");
    free(sub);
    remove_dir(dir);
}

/* ---- the journal ---- */

/* Replayed records as text: "id:type:data ...". */
struct seen {
    struct buf text;
    int refuse_id; /* the callback refuses this id */
};

static int on_record(void *arg, const struct journal_rec *r)
{
    struct seen *s = arg;
    if (s->refuse_id && r->id == (uint64_t)s->refuse_id) return -1;
    buf_printf(&s->text, "%s%llu:%u:%.*s", s->text.len ? " " : "", (unsigned long long)r->id,
               r->type, (int)r->len, (const char *)r->data);
    return 0;
}

static struct journal *jopen(const char *path, const struct durable_io *io, struct seen *s,
                             struct journal_found *found)
{
    struct journal_opts o = {.path = path, .magic = MAGIC, .max_data = MAX_DATA, .io = io};
    char err[256] = "";
    if (s) buf_init(&s->text, 1 << 20);
    struct journal *j = journal_open(&o, s ? on_record : NULL, s, found, err, sizeof(err));
    if (!j) diag("journal_open: %s", err);
    return j;
}

/* The records in path now, as text (caller frees), with what replay found. */
static char *replayed(const char *path, struct journal_found *found)
{
    struct seen s = {0};
    struct journal_found scratch;
    struct journal *j = jopen(path, NULL, &s, found ? found : &scratch);
    journal_free(j);
    if (!j) {
        buf_free(&s.text);
        return xstrdup("(open failed)");
    }
    char *out = xstrdup(s.text.data ? s.text.data : "");
    buf_free(&s.text);
    return out;
}

static int jappend(struct journal *j, unsigned type, uint64_t id, const char *data)
{
    struct journal_rec r = {.type = type, .id = id, .data = data, .len = strlen(data)};
    char err[256];
    int rc = journal_append(j, &r, err, sizeof(err));
    if (rc < 0) diag("journal_append: %s", err);
    return rc;
}

/* Writes records 1..n ("record-1", ...) to a new journal at path; returns each one's end. */
static void write_records(const char *path, int n, off_t *end)
{
    unlink(path);
    struct journal *j = jopen(path, NULL, NULL, NULL);
    for (int i = 1; i <= n; i++) {
        char data[64];
        snprintf(data, sizeof(data), "record-%d%.*s", i, i * 3, "xxxxxxxxxxxxxxxxxxxxxxxx");
        jappend(j, 1, (uint64_t)i, data);
        if (end) end[i] = (off_t)journal_size(j);
    }
    journal_free(j);
}

static bool flip(const char *path, off_t off)
{
    int fd = open(path, O_RDWR);
    unsigned char c;
    bool good = fd >= 0 && pread(fd, &c, 1, off) == 1;
    c ^= 0x10;
    good = good && pwrite(fd, &c, 1, off) == 1;
    if (fd >= 0) close(fd);
    return good;
}

static void test_journal_basics(void)
{
    char *dir = tmp_dir();
    char *path = xasprintf("%s/j.log", dir);
    struct journal_found found;
    struct seen s = {0};
    struct journal *j = jopen(path, NULL, &s, &found);
    ok(j && found.records == 0 && size_of(path) == 0, "a new journal is created empty");
    ok(jappend(j, 1, 1, "one") == 0 && jappend(j, 2, 7, "") == 0 &&
           jappend(j, 255, 9, "three") == 0,
       "three records appended (one of them empty)");
    is_int(journal_size(j), 3 * JOURNAL_HEADER + 8, "journal_size counts headers and data");
    char big[MAX_DATA + 2];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    struct journal_rec r = {.type = 1, .id = 10, .data = big, .len = MAX_DATA + 1};
    char err[256];
    is_int(journal_append(j, &r, err, sizeof(err)), -E2BIG, "a record over max_data is refused");
    journal_free(j);
    buf_free(&s.text);
    char *got = replayed(path, &found);
    is_str(got, "1:1:one 7:2: 9:255:three", "replay gives each record's type, id and data");
    ok(found.records == 3 && found.corrupt == 0 && found.torn_bytes == 0, "nothing damaged");
    free(got);
    struct seen refuse = {.refuse_id = 7};
    j = jopen(path, NULL, &refuse, &found);
    is_str(refuse.text.data, "1:1:one 9:255:three", "a record the caller refuses is left out");
    ok(found.records == 2 && found.corrupt == 1, "and counted as corrupt");
    journal_free(j);
    buf_free(&refuse.text);
    free(path);
    remove_dir(dir);
}

static void test_journal_damage(void)
{
    char *dir = tmp_dir();
    char *path = xasprintf("%s/j.log", dir);
    off_t end[6];
    struct journal_found found;
    const char *all = "1:1:record-1xxx 2:1:record-2xxxxxx 3:1:record-3xxxxxxxxx "
                      "4:1:record-4xxxxxxxxxxxx 5:1:record-5xxxxxxxxxxxxxxx";

    write_records(path, 5, end);
    int fd = open(path, O_WRONLY | O_APPEND);
    ok(fd >= 0 && write(fd, "\x4a\x52\x4e\x4c\x01\0\0\0\x40", 9) == 9, "half a header is appended");
    close(fd);
    char *got = replayed(path, &found);
    is_str(got, all, "a torn tail: every whole record replays");
    ok(found.torn_bytes == 9 && found.corrupt == 0 && size_of(path) == end[5],
       "the tail is cut off, and is not counted as corruption");
    free(got);

    /* Regression (outbox replay): damage to record 2 of 5 lost records 3 to 5. */
    ok(flip(path, end[1] + JOURNAL_HEADER + 2), "a byte of record 2's data flips");
    got = replayed(path, &found);
    is_str(got,
           "1:1:record-1xxx 3:1:record-3xxxxxxxxx 4:1:record-4xxxxxxxxxxxx "
           "5:1:record-5xxxxxxxxxxxxxxx",
           "damage in the middle: the records after it replay");
    ok(found.corrupt == 1 && found.corrupt_bytes == (uint64_t)(end[2] - end[1]) &&
           found.torn_bytes == 0 && size_of(path) == end[5],
       "the damaged record is counted as corruption, and nothing is cut");
    free(got);

    write_records(path, 5, end);
    ok(flip(path, end[2] + 8), "a byte of record 3's length field flips");
    got = replayed(path, &found);
    is_str(got,
           "1:1:record-1xxx 2:1:record-2xxxxxx 4:1:record-4xxxxxxxxxxxx "
           "5:1:record-5xxxxxxxxxxxxxxx",
           "a damaged header loses only its own record");
    ok(found.corrupt == 1, "counted once");
    free(got);

    write_records(path, 5, end);
    ok(flip(path, end[1] + 1) && flip(path, end[2] + 30), "records 2 and 3 are both damaged");
    got = replayed(path, &found);
    is_str(got, "1:1:record-1xxx 4:1:record-4xxxxxxxxxxxx 5:1:record-5xxxxxxxxxxxxxxx",
           "two damaged records in a row: the ones around them replay");
    ok(found.corrupt == 1 && found.corrupt_bytes == (uint64_t)(end[3] - end[1]),
       "one damaged span, counted once with its bytes");
    free(got);

    write_records(path, 5, end);
    ok(flip(path, end[4] + 30), "a byte of the last record flips");
    got = replayed(path, &found);
    is_str(got,
           "1:1:record-1xxx 2:1:record-2xxxxxx 3:1:record-3xxxxxxxxx "
           "4:1:record-4xxxxxxxxxxxx",
           "damage with nothing whole after it is a torn tail");
    ok(found.corrupt == 0 && size_of(path) == end[4], "and is cut off");
    free(got);
    free(path);
    remove_dir(dir);
}

/* ---- the journal under crashes and failures ---- */

struct jarg {
    const char *path;
};

static void do_append(const struct durable_io *io, void *arg)
{
    struct jarg *a = arg;
    struct fault *f = io->ctx;
    f->armed = true; /* the replay at open is crashed too */
    struct journal *j = jopen(a->path, io, NULL, NULL);
    if (j) jappend(j, 3, 6, "the sixth record, appended");
    journal_free(j);
}

static void live_2_4(void *arg, size_t i, struct journal_rec *r)
{
    static const char *data[2] = {"record-2xxxxxx", "record-4xxxxxxxxxxxx"};
    (void)arg;
    *r = (struct journal_rec){.type = 1, .id = i ? 4 : 2, .data = data[i], .len = strlen(data[i])};
}

static void do_compact(const struct durable_io *io, void *arg)
{
    struct jarg *a = arg;
    struct fault *f = io->ctx;
    struct journal *j = jopen(a->path, io, NULL, NULL);
    char err[256];
    f->armed = true;
    if (j) journal_compact(j, 2, live_2_4, NULL, err, sizeof(err));
    journal_free(j);
}

/* Crashes an open and an append of record 6 at each step, on five records (with a torn tail
 * after them when tail: the open cuts it first). Returns how many runs went wrong. */
static int crash_appends(const char *path, bool tail, int *crashes)
{
    struct jarg a = {path};
    write_records(path, 5, NULL);
    char *five = replayed(path, NULL);
    char *six = xasprintf("%s 6:3:the sixth record, appended", five);
    int bad = 0, done = 0;
    *crashes = 0;
    for (int at = 1; at < MAX_STEPS && !done; at++) {
        for (int torn = 0; torn < 2 && !done; torn++) {
            write_records(path, 5, NULL);
            int fd = tail ? open(path, O_WRONLY | O_APPEND) : -1;
            if (tail && (fd < 0 || write(fd, "\x4a\x52\x4e\x4c\x01\0\0\0\x40", 9) != 9)) bad++;
            if (fd >= 0) close(fd);
            int r = crash_at(at, torn, do_append, &a);
            done = r == 0;
            *crashes += r == 1;
            struct journal_found found;
            char *got = replayed(path, &found);
            if (r < 0 || (strcmp(got, five) != 0 && strcmp(got, six) != 0) || found.corrupt ||
                (done && strcmp(got, six) != 0)) {
                bad++;
                diag("append%s, crash at step %d%s: replay gives %s", tail ? " after a tail" : "",
                     at, torn ? " (torn)" : "", got);
            }
            free(got);
        }
    }
    if (!done) bad++;
    free(five);
    free(six);
    return bad;
}

static void test_journal_crash(void)
{
    char *dir = tmp_dir();
    char *path = xasprintf("%s/j.log", dir);
    struct jarg a = {path};
    write_records(path, 5, NULL);
    char *five = replayed(path, NULL);
    const char *live = "2:1:record-2xxxxxx 4:1:record-4xxxxxxxxxxxx";
    int crashes;
    int bad = crash_appends(path, false, &crashes);
    ok(crashes >= 3, "an append was crashed at each of its steps (%d runs)", crashes);
    is_int(bad, 0, "after a crash at any step of an append, replay gives the record or nothing");
    bad = crash_appends(path, true, &crashes);
    ok(crashes >= 5, "an open cutting a torn tail, and an append, crashed at each step (%d runs)",
       crashes);
    is_int(bad, 0, "a crash while the torn tail is cut leaves the records whole too");

    int done = 0;
    crashes = bad = 0;
    for (int at = 1; at < MAX_STEPS && !done; at++) {
        for (int torn = 0; torn < 2 && !done; torn++) {
            write_records(path, 5, NULL);
            int r = crash_at(at, torn, do_compact, &a);
            done = r == 0;
            crashes += r == 1;
            struct journal_found found;
            char *got = replayed(path, &found);
            if (r < 0 || (strcmp(got, five) != 0 && strcmp(got, live) != 0) || found.corrupt ||
                (done && strcmp(got, live) != 0)) {
                bad++;
                diag("compaction, crash at step %d%s: replay gives %s", at, torn ? " (torn)" : "",
                     got);
            }
            free(got);
        }
    }
    ok(done && crashes >= 8, "a compaction was crashed at each of its steps (%d runs)", crashes);
    is_int(bad, 0,
           "after a crash at any step of a compaction, replay gives the old records or "
           "the live ones");
    free(five);
    free(path);
    remove_dir(dir);
}

static void test_journal_failure(void)
{
    char *dir = tmp_dir();
    char *path = xasprintf("%s/j.log", dir);
    write_records(path, 5, NULL);
    char *five = replayed(path, NULL);
    const char *live = "2:1:record-2xxxxxx 4:1:record-4xxxxxxxxxxxx";
    int bad = 0, failures = 0, done = 0;
    /* Regression (outbox compaction): a reopen that failed after the rename left the outbox
     * appending to the renamed-away file. Whatever step of a compaction fails, a record
     * appended after it must be in the file that bears the name. */
    for (int at = 1; at < MAX_STEPS && !done; at++) {
        write_records(path, 5, NULL);
        struct fault f = {0};
        struct durable_io io = fault_io(&f);
        struct journal *j = jopen(path, &io, NULL, NULL);
        char err[256] = "";
        f.armed = true;
        f.at = at;
        int rc = journal_compact(j, 2, live_2_4, NULL, err, sizeof(err));
        done = f.steps < at;
        failures += !done;
        f.at = 0;
        int arc = jappend(j, 3, 6, "after");
        journal_free(j);
        char *got = replayed(path, NULL);
        char *want = xasprintf("%s 6:3:after", f.renamed ? live : five);
        bool must_fail = !done && !harmless(&f);
        if ((must_fail ? rc >= 0 : rc != 0) || arc != 0 || strcmp(got, want) != 0) {
            bad++;
            diag("compaction failing at step %d (rc %d: %s): replay gives %s", at, rc, err, got);
        }
        free(want);
        free(got);
    }
    ok(done && failures >= 7, "a failure was tried at each step of a compaction (%d)", failures);
    is_int(bad, 0, "after a failed compaction, what is appended lands in the file with the name");

    /* A failed append is cut back, and the next one follows the last whole record. */
    bad = failures = done = 0;
    for (int at = 1; at < MAX_STEPS && !done; at++) {
        write_records(path, 5, NULL);
        struct fault f = {0};
        struct durable_io io = fault_io(&f);
        struct journal *j = jopen(path, &io, NULL, NULL);
        f.armed = true;
        f.at = at;
        int rc = jappend(j, 3, 6, "lost");
        done = f.steps < at;
        failures += !done;
        f.at = 0;
        int arc = jappend(j, 3, 7, "next");
        journal_free(j);
        struct journal_found found;
        char *got = replayed(path, &found);
        char *want = xasprintf(done ? "%s 6:3:lost 7:3:next" : "%s 7:3:next", five);
        if ((done ? rc != 0 : rc >= 0) || arc != 0 || strcmp(got, want) != 0 || found.corrupt) {
            bad++;
            diag("append failing at step %d: replay gives %s", at, got);
        }
        free(want);
        free(got);
    }
    ok(done && failures >= 2, "a failure was tried at each step of an append (%d)", failures);
    is_int(bad, 0, "a failed append leaves nothing behind that the next one follows");
    free(five);
    free(path);
    remove_dir(dir);
}

int main(void)
{
    must(log_set_level_name("error"));
    struct buf b;
    buf_init(&b, 16 << 20);
    for (int i = 0; i < 2000; i++) buf_printf(&b, "new content line %d\n", i);
    new_text = b.data;
    test_replace_basics();
    test_replace_crash();
    test_replace_failure();
    test_dir_ensure();
    test_journal_basics();
    test_journal_damage();
    test_journal_crash();
    test_journal_failure();
    buf_free(&b);
    return done_testing();
}
