/* stats.c: label values for the daemon counters of stats.h. */
#include "stats.h"

const char *http_handler_name(enum http_handler h)
{
    static const char *const names[HANDLER_COUNT] = {
        "/metrics", "/-/healthy", "/-/ready", "/-/reload", "/api", "/", "/federate", "other"};
    return names[h];
}

const char *http_code_text(enum http_code c)
{
    static const char *const codes[CODE_COUNT] = {"200", "400", "401", "403", "404", "405",
                                                  "413", "414", "431", "500", "501", "503"};
    return codes[c];
}

const char *http_refused_name(enum http_refused r)
{
    static const char *const names[HTTP_REFUSED_COUNT] = {"max_connections", "max_per_client"};
    return names[r];
}

const char *http_closed_name(enum http_closed c)
{
    static const char *const names[HTTP_CLOSED_COUNT] = {"read_timeout", "idle", "evicted"};
    return names[c];
}

const char *http_auth_failure_name(enum http_auth_failure f)
{
    static const char *const names[HTTP_AUTH_FAILURE_COUNT] = {
        "no_credentials", "wrong_credentials", "client_cert_missing", "client_cert_invalid"};
    return names[f];
}

enum http_code http_code_of(unsigned status)
{
    switch (status) {
    case 200: return CODE_200;
    case 400: return CODE_400;
    case 401: return CODE_401;
    case 403: return CODE_403;
    case 404: return CODE_404;
    case 405: return CODE_405;
    case 413: return CODE_413;
    case 414: return CODE_414;
    case 431: return CODE_431;
    case 501: return CODE_501;
    case 503: return CODE_503;
    default: return status < 300 ? CODE_200 : CODE_500;
    }
}
