/* status_page.h: GET /, a small HTML page that says what this drwatch is and links to its
 * endpoints. Rendered on the loop thread, which owns what it shows. */
#ifndef DRWATCH_STATUS_PAGE_H
#define DRWATCH_STATUS_PAGE_H

#include <stddef.h>

struct buf;
struct http_server;

/* A part's section of the page, under its title: render appends HTML to b (text through
 * status_page_put_html), on the loop thread. */
struct status_section {
    const char *title;
    void (*render)(void *arg, struct buf *b);
    void *arg;
};
#define STATUS_SECTIONS_MAX 8

/* What the page shows; the pointers are the daemon's and read on the loop thread. */
struct status_page_info {
    const char *config_path;
    const char *const *site; /* the site of the config in force */
    struct status_section sections[STATUS_SECTIONS_MAX];
    size_t nsections;
};

/* Adds a section after the others (beyond STATUS_SECTIONS_MAX it is dropped, logged). */
void status_page_add_section(struct status_page_info *info, const struct status_section *s);
/* Appends s with HTML's special characters escaped. */
void status_page_put_html(struct buf *b, const char *s);

/* Adds GET / to s. info must outlive s. */
void status_page_add_route(struct http_server *s, const struct status_page_info *info);

#endif
