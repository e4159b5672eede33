/* status_page.h: GET /, a small HTML page that says what this drwatch is and links to its
 * endpoints. Rendered on the loop thread, which owns what it shows. */
#ifndef DRWATCH_STATUS_PAGE_H
#define DRWATCH_STATUS_PAGE_H

struct http_server;

/* What the page shows; the pointers are the daemon's and read on the loop thread. */
struct status_page_info {
    const char *config_path;
    const char *const *site; /* the site of the config in force */
};

/* Adds GET / to s. info must outlive s. */
void status_page_add_route(struct http_server *s, const struct status_page_info *info);

#endif
