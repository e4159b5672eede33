/* switchover_page.h: the switchover part's section of the status page at / (see
 * switchover_page.c): what an on-call engineer looks at first. */
#ifndef DRWATCH_SWITCHOVER_PAGE_H
#define DRWATCH_SWITCHOVER_PAGE_H

struct buf;

/* A status_section render function: slot is the daemon's struct switchover *const *, which a
 * reload may replace or empty. Appends HTML to b; loop thread. */
void switchover_page_html(void *slot, struct buf *b);

#endif
