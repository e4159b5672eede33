/* federate.h: GET /federate?match[]=<selector>&match[]=..., Prometheus' federation endpoint
 * over drwatch's last published snapshot, for a Prometheus that scrapes drwatch with
 * `honor_labels: true`.
 *
 * What Prometheus' web/federate.go does, and where drwatch differs:
 * - each match[] is a series selector as PromQL reads it (selector_parse); at least one is
 *   needed, and one that does not parse is a 400 with the parse error;
 * - a series is served when any selector selects it, and once. Selectors match the series
 *   name, so a histogram's `_bucket`, `_sum` and `_count` are three names (as in Prometheus'
 *   storage), and a histogram's own name selects nothing;
 * - the series keep their labels, and drwatch adds none (Prometheus adds its external labels
 *   and an empty instance; drwatch has neither);
 * - where Prometheus sends every series as its own `untyped` family with the time of its last
 *   sample, drwatch sends what its /metrics sends, restricted to the selected series: families
 *   in name order with HELP, TYPE (and UNIT) once each, in text 0.0.4 or OpenMetrics as the
 *   Accept header asks, gzip-compressed when Accept-Encoding allows, and no timestamps (the
 *   snapshot has none; Prometheus stamps the samples with the scrape time).
 *
 * The route runs on the HTTP server's worker thread (HTTP_ON_WORKER): it reads the immutable
 * snapshot, never the loop, and no /metrics scrape waits behind it. Its answer is capped at
 * CAP_FEDERATE_REPLY, its match[] at CAP_FEDERATE_MATCHES and CAP_FEDERATE_MATCH_BYTES. */
#ifndef DRWATCH_FEDERATE_H
#define DRWATCH_FEDERATE_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "http_route.h"
#include "registry.h"
#include "xalloc.h"

struct http_server;
struct federate_query;

/* Reads the match[] parameters among args (the query, URL-decoded; other parameters are
 * ignored, as Prometheus ignores them). Returns 0 with *out (the caller frees it with
 * federate_query_free), or -1 with err saying what is wrong: no match[], more than
 * CAP_FEDERATE_MATCHES of them or more than CAP_FEDERATE_MATCH_BYTES in all, or a selector
 * that does not parse (which one, and Prometheus' "line:column: parse error: ..."). */
DRW_MUST_CHECK int federate_query_parse(const struct http_kv *args, size_t nargs,
                                        struct federate_query **out, char *err, size_t errlen);
void federate_query_free(struct federate_query *q); /* NULL-safe */
size_t federate_query_count(const struct federate_query *q);

/* Renders the series of snap that a selector of q selects into out (appended; out's cap
 * bounds the answer) in format f, gzip-compressed when gzip is set: the families in the
 * snapshot's order, each with its metadata once and the selected samples in the order
 * /metrics has them, named and typed as /metrics names and types them. *nseries (may be
 * NULL) is the number of series. Returns 0, -E2BIG past out's cap, or -EIO when zlib fails. */
DRW_MUST_CHECK int federate_render(const struct federate_query *q, const struct snapshot *snap,
                                   enum expo_format f, bool gzip, struct buf *out, size_t *nseries);

/* Adds GET and HEAD /federate to s: the answer of federate_render for the request's match[]
 * over what s publishes (http_current_snapshot), negotiated like /metrics; 400 with the
 * reason for a bad match[]; 503 before the first snapshot; 500 past CAP_FEDERATE_REPLY.
 * Counted under handler="/federate". */
void federate_add_route(struct http_server *s);

#endif
