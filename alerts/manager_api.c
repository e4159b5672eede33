/* manager_api.c: GET, POST and DELETE /api/v1/silences on the loop thread (an HTTP_ON_LOOP
 * route: the HTTP server hands the request to the loop and no HTTP thread waits). Reading is open;
 * changing needs the bearer token of api_token_file, compared in constant time: by the HTTP
 * server before it reads the body (the route's token holder, which main keeps equal to
 * manager_api_token), and here again, so that this API is safe on its own. A change is saved
 * before the answer, so that a silence that was acknowledged survives a crash. */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "http_auth.h"
#include "manager_int.h"

#define JSON_TYPE "application/json"

static bool authorized(const struct am_manager *m, const char *header, struct http_reply *rep)
{
    if (!m->plan->token) {
        rep->status = 401;
        buf_puts(&rep->body, "silences cannot be changed: the alerting section has no "
                             "api_token_file\n");
        return false;
    }
    if (http_bearer_matches(header, m->plan->token)) return true;
    rep->status = 401;
    buf_puts(&rep->body, "401 unauthorized: changing silences needs Authorization: Bearer "
                         "<token> (alerting.api_token_file)\n");
    return false;
}

static bool save(struct am_manager *m, struct http_reply *rep)
{
    char err[512];
    if (silences_save(m->silences, err, sizeof(err)) == 0) return true;
    log_error("alerting", "%s", err);
    rep->status = 500;
    buf_reset(&rep->body);
    buf_printf(&rep->body, "the change applies, but could not be saved: %s\n", err);
    return false;
}

static void api_post(struct am_manager *m, const struct manager_api_request *req, double now,
                     struct http_reply *rep)
{
    char id[40] = "", err[512] = "";
    int rc = silences_post(m->silences, req->body, req->body_len, now, id, err, sizeof(err));
    if (rc == -EINVAL || rc == -ENOSPC) {
        rep->status = 400;
        buf_printf(&rep->body, "bad silence: %s\n", err);
        return;
    }
    if (rc == -ENOENT) {
        rep->status = 404;
        buf_printf(&rep->body, "%s\n", err);
        return;
    }
    if (!save(m, rep)) return;
    log_info("alerting", "silence %s created or updated", id);
    rep->content_type = JSON_TYPE;
    buf_printf(&rep->body, "{\"silenceID\":\"%s\"}\n", id);
}

static void api_delete(struct am_manager *m, const struct manager_api_request *req, double now,
                       struct http_reply *rep)
{
    char id[64] = "";
    if (req->id && req->id[0]) {
        snprintf(id, sizeof(id), "%s", req->id);
    } else if (req->body_len) {
        json_t *o = json_loadb(req->body, req->body_len, 0, NULL);
        const char *v = json_string_value(json_object_get(o, "id"));
        if (v) snprintf(id, sizeof(id), "%s", v);
        json_decref(o);
    }
    if (!id[0]) {
        rep->status = 400;
        buf_puts(&rep->body, "which silence? give its id as ?id=... or as {\"id\": \"...\"}\n");
        return;
    }
    int rc = silences_expire(m->silences, id, now);
    if (rc == -ENOENT) {
        rep->status = 404;
        buf_printf(&rep->body, "silence %s not found\n", id);
        return;
    }
    if (rc == 0 && !save(m, rep)) return;
    if (rc == 0) log_info("alerting", "silence %s expired", id);
    rep->content_type = JSON_TYPE;
    buf_puts(&rep->body, rc == 1 ? "{\"status\":\"already expired\"}\n" : "{}\n");
}

void manager_silences_api(struct am_manager *m, const struct manager_api_request *req,
                          struct http_reply *rep)
{
    double now = manager_now(m);
    if (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0) {
        rep->content_type = JSON_TYPE;
        silences_list_json(m->silences, now, &rep->body);
        buf_putc(&rep->body, '\n');
        return;
    }
    if (!authorized(m, req->authorization, rep)) return;
    if (strcmp(req->method, "POST") == 0)
        api_post(m, req, now, rep);
    else
        api_delete(m, req, now, rep);
    am_reschedule(m);
}

/* A silence: at most 64 matchers (names and values, regexes included) and two texts of at
 * most 4 KiB (silence.c); 64 KiB leaves room for all of it in JSON. */
#define SILENCE_MAX_BODY (64 * 1024)

static void route_silences(void *ctx, const struct http_request *req, struct http_reply *rep)
{
    struct am_manager *m = *(struct am_manager *const *)ctx;
    if (!m) {
        rep->status = 404;
        (void)buf_puts(&rep->body, "alerting is not configured (no alerting section)\n");
        return;
    }
    struct manager_api_request ar = {.method = req->method,
                                     .authorization = http_request_header(req, "Authorization"),
                                     .id = http_request_arg(req, "id"),
                                     .body = req->body,
                                     .body_len = req->body_len};
    manager_silences_api(m, &ar, rep);
}

void manager_api_add_route(struct am_manager *const *slot, const struct http_token *token,
                           struct http_server *s)
{
    http_route_add(s, &(struct http_route){.path = "/api/v1/silences",
                                           .methods = "GET,HEAD,POST,DELETE",
                                           .stat = HANDLER_API,
                                           .flags = HTTP_ON_LOOP,
                                           .max_body = SILENCE_MAX_BODY,
                                           .token = token,
                                           .fn = route_silences,
                                           .ctx = (void *)slot});
}

const char *manager_api_token(const struct am_manager *m)
{
    return m ? m->plan->token : NULL;
}
