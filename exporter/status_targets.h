/* status_targets.h: the status page's targets section: every collector target's health as
 * the last snapshot shows it (drwatch_collector_up, its last success, scrape duration and
 * errors), the failing ones first, so on-call sees at a glance what drwatch cannot see. */
#ifndef DRWATCH_STATUS_TARGETS_H
#define DRWATCH_STATUS_TARGETS_H

struct buf;

/* Shows at most this many targets (the rest are counted). */
#define STATUS_TARGETS_MAX 256

/* A status_section render function; arg is the struct http_server whose current snapshot it
 * reads (on the loop thread). */
void status_targets_html(void *arg, struct buf *b);

#endif
