/* textfile.c: exports every *.prom file of a directory, like node_exporter's textfile
 * collector (cron jobs such as the daily DR drill write their results there).
 *
 * Files go through drwatch's own text-format parser in strict mode, twice: a first pass that
 * only checks, so a bad file is skipped whole instead of half-exported, and a second that adds
 * its samples. A series that an earlier file already gave is reported and kept once. Files are
 * re-read only when one of them changed (inode, size or mtime); otherwise the last set is
 * served again, which keeps a 100k-series file cheap to export every interval.
 *
 * Uses: exporter/textparse (parser), exporter/registry (sets), exporter/collector (interface). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "caps.h"
#include "collector_env.h"
#include "collectors.h"
#include "log.h"
#include "strutil.h"
#include "textparse.h"
#include "xalloc.h"

struct textfile_config {
    char *directory;
    int64_t interval_ms;
    int64_t max_file_bytes;
};

static const struct cfg_key textfile_keys[] = {
    {.name = "directory",
     .type = CFG_STRING,
     .required = true,
     .offset = offsetof(struct textfile_config, directory),
     .expect = "a directory holding *.prom files"},
    {.name = "interval",
     .type = CFG_DURATION,
     .offset = offsetof(struct textfile_config, interval_ms),
     .expect = "how often to read the directory, 1s to 1h",
     .min = 1000,
     .max = 3600000},
    {.name = "max_file_bytes",
     .type = CFG_INT,
     .def = "67108864",
     .offset = offsetof(struct textfile_config, max_file_bytes),
     .expect = "the largest file read, in bytes, 1 KiB to 1 GiB",
     .min = 1024,
     .max = 1 << 30},
    CFG_END,
};

/* What a file looked like when it was last read. */
struct file_seen {
    char *name;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    bool bad;
    struct complaint complaint;
};

struct textfile {
    char *dir;
    size_t max_bytes;
    struct file_seen *files;
    size_t nfiles;
    struct metric_set *last; /* the set built from exactly these files */
    struct complaint dir_complaint;
};

/* ---- one file ---- */

struct file_pass {
    struct metric_set *set;
    const char *file;
    bool adding; /* false: check only */
    struct textparse_error *err;
    size_t duplicates;
    char first_dup[160];
};

static int check_family(struct file_pass *p, const struct tp_sample *s)
{
    if (s->has_timestamp) {
        textparse_error_set(p->err, s->line,
                            "sample \"%.*s\" has a timestamp; textfiles must "
                            "not carry timestamps (node_exporter refuses them too)",
                            (int)s->name_len, s->name);
        return TEXTPARSE_ESYNTAX;
    }
    struct metric_family *f = mset_family_find(p->set, s->name, s->family_len);
    /* A family without samples is only a HELP placeholder: it takes any type. */
    if (f && f->nsamples && f->type != s->family_type) {
        textparse_error_set(p->err, s->line, "\"%.*s\" is a %s here but a %s in an earlier file",
                            (int)s->family_len, s->name, metric_type_name(s->family_type),
                            metric_type_name(f->type));
        return TEXTPARSE_ESYNTAX;
    }
    return 0;
}

static int on_help(void *ctx, const char *name, size_t len, const char *text, size_t tlen,
                   unsigned line)
{
    (void)line;
    struct file_pass *p = ctx;
    if (!p->adding) return 0;
    struct metric_family *f = mset_family_find(p->set, name, len);
    if (f && f->help[0]) return 0; /* the first file to describe a family wins */
    char *plain = xmalloc(tlen + 1);
    textparse_unescape(plain, text, tlen);
    if (f) {
        f->help = mset_strdup(p->set, plain);
    } else {
        /* Remember it on an untyped placeholder; the first sample gives the real type. */
        char *n = xstrndup(name, len);
        /* NULL when refused: only the HELP is lost, family_for asks again at the first sample. */
        DRW_IGNORE(mset_family(p->set, n, METRIC_UNTYPED, plain));
        free(n);
    }
    free(plain);
    return 0;
}

static struct metric_family *family_for(struct file_pass *p, const struct tp_sample *s)
{
    struct metric_family *f = mset_family_find(p->set, s->name, s->family_len);
    if (f && f->type == s->family_type) return f;
    char *n = xstrndup(s->name, s->family_len);
    const char *help = f ? f->help : "";
    if (f) {
        /* An untyped placeholder from HELP: retype it (no samples were added to it yet). */
        f->type = s->family_type;
    } else {
        f = mset_family(p->set, n, s->family_type, help);
    }
    free(n);
    return f;
}

static int on_sample(void *ctx, const struct tp_sample *s)
{
    struct file_pass *p = ctx;
    int rc = check_family(p, s);
    if (rc || !p->adding) return rc;
    struct metric_family *f = family_for(p, s);
    if (mset_add_parsed(p->set, f, s, NULL, 0) == -EEXIST) {
        if (p->duplicates++ == 0)
            snprintf(p->first_dup, sizeof(p->first_dup), "%.*s (line %u)", (int)s->name_len,
                     s->name, s->line);
    }
    return 0;
}

/* One parser pass over an open file, read CAP_TEXTFILE_CHUNK at a time: a 12 MB file never
 * sits in memory whole next to the set it becomes. The buffer holds one read and the line it
 * cut; since the file is refused past max_bytes, max_bytes plus one read caps it. Returns 0,
 * a parse error, or -1 with err filled. */
static int parse_fd(int fd, size_t max_bytes, void *pass, struct textparse_error *err)
{
    static const struct textparse_handler h = {.help = on_help, .sample = on_sample};
    struct textparse_opts opts = {.strict = true};
    struct textparse *tp = textparse_begin(&h, pass, &opts, err, NULL);
    struct buf b;
    buf_init(&b, max_bytes + CAP_TEXTFILE_CHUNK);
    size_t total = 0;
    int rc = 0;
    if (lseek(fd, 0, SEEK_SET) < 0) rc = -1;
    while (rc == 0) {
        if (buf_reserve(&b, CAP_TEXTFILE_CHUNK) < 0) {
            /* Cannot happen (b.len <= total <= max_bytes here); refused rather than assumed. */
            snprintf(err->msg, sizeof(err->msg), "file larger than max_file_bytes (%zu)",
                     max_bytes);
            rc = -1;
            break;
        }
        ssize_t r = read(fd, b.data + b.len, CAP_TEXTFILE_CHUNK);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            if (r < 0) rc = -1;
            break;
        }
        b.len += (size_t)r;
        total += (size_t)r;
        if (total > max_bytes) {
            snprintf(err->msg, sizeof(err->msg), "file larger than max_file_bytes (%zu)",
                     max_bytes);
            rc = -1;
            break;
        }
        size_t used;
        rc = textparse_feed(tp, b.data, b.len, &used);
        memmove(b.data, b.data + used, b.len - used);
        b.len -= used;
    }
    if (rc == -1 && !err->msg[0]) snprintf(err->msg, sizeof(err->msg), "%s", strerror(errno));
    int end_rc = textparse_end(tp, b.data, rc ? 0 : b.len);
    buf_free(&b);
    return rc ? rc : end_rc;
}

/* Checks one file, then adds it; returns 0, or -1 with the reason logged (once while it
 * repeats). Both passes read the same open file, so a file replaced meanwhile (a rename) is
 * never checked in one version and added in another. */
static int add_file(struct textfile *t, struct metric_set *set, struct file_seen *fs,
                    size_t *duplicates)
{
    char *path = xasprintf("%s/%s", t->dir, fs->name);
    struct textparse_error err = {0};
    struct file_pass pass = {.set = set, .file = fs->name, .err = &err};
    int rc, fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err.msg, sizeof(err.msg), "%s", strerror(errno));
        rc = -1;
    } else {
        rc = parse_fd(fd, t->max_bytes, &pass, &err);
        if (rc == 0) {
            pass.adding = true;
            rc = parse_fd(fd, t->max_bytes, &pass, &err);
        }
        close(fd);
    }
    if (rc == 0 && pass.duplicates) {
        log_warn("textfile",
                 "%s: %zu series already given by an earlier file (first: %s); keeping the first",
                 path, pass.duplicates, pass.first_dup);
        *duplicates += pass.duplicates;
    }
    if (rc != 0) {
        if (err.line)
            log_complain(&fs->complaint, LOG_WARN, "textfile", "skipping %s:%u:%u: %s", path,
                         err.line, err.col, err.msg);
        else
            log_complain(&fs->complaint, LOG_WARN, "textfile", "skipping %s: %s", path, err.msg);
    } else {
        log_complain_clear(&fs->complaint, "textfile", "%s is valid again", path);
    }
    free(path);
    return rc == 0 ? 0 : -1;
}

/* ---- the directory ---- */

static int name_cmp(const void *a, const void *b)
{
    return strcmp(((const struct file_seen *)a)->name, ((const struct file_seen *)b)->name);
}

/* Lists *.prom files with their stat data, sorted by name. */
static int list_files(const char *dir, struct file_seen **out, size_t *n, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "cannot open directory %s: %s", dir, strerror(errno));
        return -1;
    }
    struct file_seen *v = NULL;
    size_t cnt = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.' || !str_has_suffix(e->d_name, ".prom")) continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode)) continue;
        v = xrealloc(v, (cnt + 1) * sizeof(*v));
        v[cnt++] = (struct file_seen){
            .name = xstrdup(e->d_name), .ino = st.st_ino, .size = st.st_size, .mtime = st.st_mtim};
    }
    closedir(d);
    if (cnt) qsort(v, cnt, sizeof(*v), name_cmp);
    *out = v;
    *n = cnt;
    return 0;
}

static bool same_files(const struct textfile *t, const struct file_seen *v, size_t n)
{
    if (!t->last || n != t->nfiles) return false;
    for (size_t i = 0; i < n; i++) {
        const struct file_seen *a = &t->files[i], *b = &v[i];
        if (strcmp(a->name, b->name) || a->ino != b->ino || a->size != b->size ||
            a->mtime.tv_sec != b->mtime.tv_sec || a->mtime.tv_nsec != b->mtime.tv_nsec)
            return false;
    }
    return true;
}

static void free_files(struct file_seen *v, size_t n)
{
    for (size_t i = 0; i < n; i++) free(v[i].name);
    free(v);
}

static void add_file_metrics(struct metric_set *set, const struct file_seen *v, size_t n,
                             size_t duplicates)
{
    struct metric_family *mt = mset_family(
        set, "drwatch_textfile_mtime_seconds", METRIC_GAUGE,
        "Modification time of each *.prom file read by the textfile collector (Unix time).");
    mset_family_set_unit(set, mt, "seconds");
    struct metric_family *valid = mset_family(
        set, "drwatch_textfile_file_valid", METRIC_GAUGE,
        "1 if the *.prom file parsed and was exported, 0 if it was skipped as invalid.");
    struct metric_family *dup = mset_family(
        set, "drwatch_textfile_duplicate_series", METRIC_GAUGE,
        "Series given by more than one *.prom file (or twice in one); the first is exported.");
    for (size_t i = 0; i < n; i++) {
        mset_addv(set, mt, (double)v[i].mtime.tv_sec + (double)v[i].mtime.tv_nsec / 1e9, "file",
                  v[i].name, LABELS_END);
        mset_addv(set, valid, v[i].bad ? 0 : 1, "file", v[i].name, LABELS_END);
    }
    mset_addv(set, dup, (double)duplicates, LABELS_END);
}

static void textfile_start(void *state, struct scrape *s)
{
    struct textfile *t = state;
    struct file_seen *v;
    size_t n;
    char err[300];
    if (list_files(t->dir, &v, &n, err, sizeof(err)) < 0) {
        scrape_done(s, false, "read_dir", err);
        return;
    }
    if (same_files(t, v, n)) {
        free_files(v, n);
        scrape_reuse_set(s, t->last);
    } else {
        /* Carry the complaints over so a bad file is logged once, not at every change. */
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < t->nfiles; k++)
                if (strcmp(v[i].name, t->files[k].name) == 0)
                    v[i].complaint = t->files[k].complaint;
        struct metric_set *set = scrape_set(s);
        size_t duplicates = 0;
        for (size_t i = 0; i < n; i++) v[i].bad = add_file(t, set, &v[i], &duplicates) < 0;
        add_file_metrics(set, v, n, duplicates);
        free_files(t->files, t->nfiles);
        t->files = v;
        t->nfiles = n;
        mset_unref(t->last);
        mset_ref(set);
        t->last = set;
    }
    for (size_t i = 0; i < t->nfiles; i++)
        if (t->files[i].bad) scrape_count_error(s, "bad_file");
    scrape_done(s, true, NULL, NULL);
}

static int textfile_create(const void *config, const struct collector_env *env,
                           struct target_list *out, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    const struct textfile_config *c = config;
    struct textfile *t = xcalloc(1, sizeof(*t));
    t->dir = xstrdup(c->directory);
    t->max_bytes = (size_t)c->max_file_bytes;
    int64_t interval = c->interval_ms ? c->interval_ms : env->default_interval_ms;
    target_list_add(out, t, c->directory, "", interval, interval);
    return 0;
}

static void textfile_free(void *state)
{
    struct textfile *t = state;
    if (!t) return;
    free_files(t->files, t->nfiles);
    mset_unref(t->last);
    free(t->dir);
    free(t);
}

const struct collector_ops textfile_collector = {
    .name = "textfile",
    .module = {.name = "textfile", .keys = textfile_keys, .size = sizeof(struct textfile_config)},
    .create = textfile_create,
    .start = textfile_start,
    .free = textfile_free,
};
