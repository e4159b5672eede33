/* collector.h: the one small interface every collector implements (STYLE.md).
 *
 * A collector is one .c file in collectors/ exporting one `const struct collector_ops`. Its
 * config section is a struct cfg_module; `create` turns a loaded section into targets, each
 * with its own site, interval and timeout. The scheduler (scheduler.h) then calls `start` for each
 * target on its interval, on the loop thread; the collector fills the scrape's metric set and
 * calls scrape_done exactly once, from `start` or later from a loop callback. If the deadline
 * passes first, the scheduler calls `cancel` and reports a timeout; the collector must then
 * drop the scrape without calling scrape_done.
 *
 * The scheduler, not the collector, owns drwatch_collector_up, _scrape_duration_seconds,
 * _errors_total{reason} and _last_success_timestamp_seconds, labelled collector, target and
 * site. */
#ifndef DRWATCH_COLLECTOR_H
#define DRWATCH_COLLECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "registry.h"
#include "xalloc.h"

struct scrape;
/* What a collector may use (the loop, the HTTP client, the site model...). Defined by the
 * collectors part (collectors/collector_env.h), filled by main; the core only passes it on. */
struct collector_env;
struct collector_ops;

struct collector_target {
    const struct collector_ops *ops; /* set by collector_targets_make */
    void *state;                     /* the collector's, freed with ops->free */
    char *name;                      /* target label: a URL, a path, a name from the config */
    char *site;                      /* site label, or "" when the target is not about a site */
    int64_t interval_ms;
    int64_t timeout_ms;
};

/* Targets that `create` fills; whoever holds the list owns names and states. */
struct target_list {
    struct collector_target *v;
    size_t n;
};

/* Adds a target (name and site are copied). */
void target_list_add(struct target_list *l, void *state, const char *name, const char *site,
                     int64_t interval_ms, int64_t timeout_ms);

struct collector_ops {
    const char *name;         /* collector label and config section */
    struct cfg_module module; /* the section's schema */
    bool enabled_by_default;  /* runs even without a section (self) */
    /* Makes the targets of a loaded section. Returns 0, or -1 with err filled. */
    int (*create)(const void *config, const struct collector_env *env, struct target_list *out,
                  char *err, size_t errlen);
    void (*start)(void *state, struct scrape *s);
    void (*cancel)(void *state); /* may be NULL if start always finishes at once */
    void (*free)(void *state);
};

/* The set this scrape fills; owned by the scrape. */
struct metric_set *scrape_set(struct scrape *s);
const char *scrape_target_site(const struct scrape *s);
/* Replaces the scrape's set with an existing one (takes a reference): for collectors that
 * found nothing changed since their last scrape. */
void scrape_reuse_set(struct scrape *s, struct metric_set *set);
/* Counts an error that did not fail the scrape (a bad file among good ones). */
void scrape_count_error(struct scrape *s, const char *reason);
/* Ends the scrape: ok keeps its samples and sets up = 1; otherwise up = 0, the error counted
 * under reason and logged (once while it repeats) with detail. */
void scrape_done(struct scrape *s, bool ok, const char *reason, const char *detail);

/* Ends the label list of mset_addv: a typed NULL, as variadic functions need. */
#define LABELS_END ((const char *)NULL)

/* Makes the targets of every collector of table[0..n) that has a section in cfg (or runs
 * without one, enabled_by_default), in table order. Returns 0, or -1 with err filled and out
 * left empty when a collector refuses its section. The one place targets are made: the daemon
 * hands them to the scheduler (sched_apply), check-config counts and frees them. */
DRW_MUST_CHECK int collector_targets_make(const struct collector_ops *const *table, size_t n,
                                          const struct config *cfg, const struct collector_env *env,
                                          struct target_list *out, char *err, size_t errlen);
/* Frees every target of l (through its collector's free) and the list. */
void collector_targets_free(struct target_list *l);

#endif
