/* rules_api.h: GET /api/v1/alerts, in the shape of Prometheus' alerts API. The document is
 * made by each evaluation (rules_alerts_json) and published here from the loop when the
 * evaluation's result comes back; HTTP threads serve the last one without waiting for anything. */
#ifndef DRWATCH_RULES_API_H
#define DRWATCH_RULES_API_H

struct http_server;
struct rules_api;

struct rules_api *rules_api_new(void);
void rules_api_free(struct rules_api *a); /* NULL-safe */
/* Makes json (taken over; NULL for "no rules") what the route serves. Any thread. */
void rules_api_publish(struct rules_api *a, char *json);
/* Adds GET /api/v1/alerts to s; a must outlive s. */
void rules_api_add_route(struct rules_api *a, struct http_server *s);

struct buf;
/* Shows at most this many alerts on the status page (the API has them all). */
#define RULES_PAGE_ALERTS_MAX 50
/* The status page's alerts section (a status_section render; arg is the rules_api): the
 * alerts of the last evaluation, firing then pending, with labels, summary and since when. */
void rules_api_page_html(void *arg, struct buf *b);

#endif
