/* switchover_api.h: POST /api/v1/transition, GET /api/v1/state, /api/v1/evidence and
 * /api/v1/plans/<id> (see switchover_api.c). */
#ifndef DRWATCH_SWITCHOVER_API_H
#define DRWATCH_SWITCHOVER_API_H

struct switchover;
struct http_server;
struct http_token;

#define SWITCHOVER_API_PLANS "/api/v1/plans/"

/* Adds the routes to s, run on the loop on *slot: the daemon's part, which a reload may
 * replace or remove (then 404). token (the --web.token-file holder) guards the transition
 * request. slot and token must outlive s. */
void switchover_api_add_routes(struct switchover *const *slot, const struct http_token *token,
                               struct http_server *s);

#endif
