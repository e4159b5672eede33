/* walpos.c: the WAL position board (see walpos.h): a fixed array, linear scans; a few
 * entries per site at most. */
#include "walpos.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

struct walpos_entry {
    const void *owner;
    char sysid[32];
    int64_t timeline, lsn;
    double seen;
};

struct walpos {
    int refs;
    struct walpos_entry v[WALPOS_MAX_ENTRIES];
    size_t n;
};

struct walpos *walpos_new(void)
{
    struct walpos *b = xcalloc(1, sizeof(*b));
    b->refs = 1;
    return b;
}

void walpos_ref(struct walpos *b)
{
    b->refs++;
}

void walpos_unref(struct walpos *b)
{
    if (b && --b->refs == 0) free(b);
}

void walpos_drop(struct walpos *b, const void *owner)
{
    size_t k = 0;
    for (size_t i = 0; i < b->n; i++)
        if (b->v[i].owner != owner) b->v[k++] = b->v[i];
    b->n = k;
}

void walpos_post(struct walpos *b, const void *owner, const char *sysid, int64_t timeline,
                 int64_t lsn, double now)
{
    if (!sysid || !*sysid || strlen(sysid) >= sizeof(b->v[0].sysid) || b->n == WALPOS_MAX_ENTRIES)
        return;
    struct walpos_entry *e = &b->v[b->n++];
    e->owner = owner;
    snprintf(e->sysid, sizeof(e->sysid), "%s", sysid);
    e->timeline = timeline;
    e->lsn = lsn;
    e->seen = now;
}

static bool usable(const struct walpos_entry *e, const char *sysid, double now, double max_age)
{
    return strcmp(e->sysid, sysid) == 0 && now - e->seen <= max_age;
}

bool walpos_primary(const struct walpos *b, const char *sysid, int64_t timeline, double now,
                    double max_age, int64_t *lsn, double *age_s)
{
    if (!sysid || !*sysid) return false;
    const struct walpos_entry *best = NULL;
    bool best_tl = false;
    for (size_t i = 0; i < b->n; i++) {
        const struct walpos_entry *e = &b->v[i];
        if (!usable(e, sysid, now, max_age)) continue;
        bool tl = timeline > 0 && e->timeline == timeline;
        if (!best || (tl && !best_tl) || (tl == best_tl && e->lsn > best->lsn)) {
            best = e;
            best_tl = tl;
        }
    }
    if (!best) return false;
    *lsn = best->lsn;
    *age_s = now - best->seen;
    return true;
}

int walpos_primaries(const struct walpos *b, const char *sysid, double now, double max_age)
{
    int n = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (!usable(&b->v[i], sysid, now, max_age)) continue;
        bool seen = false;
        for (size_t k = 0; k < i && !seen; k++)
            seen = b->v[k].owner == b->v[i].owner && usable(&b->v[k], sysid, now, max_age);
        n += !seen;
    }
    return n;
}
