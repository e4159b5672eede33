/* stats.h: the daemon's own counters, written by the modules that do the work (HTTP threads,
 * the loop) and read by the self collector. Owned by main; every field is atomic because the
 * HTTP server runs on its own threads. */
#ifndef DRWATCH_STATS_H
#define DRWATCH_STATS_H

#include <stdatomic.h>
#include <stdint.h>

enum http_handler {
    HANDLER_METRICS,
    HANDLER_HEALTHY,
    HANDLER_READY,
    HANDLER_RELOAD,
    HANDLER_API,
    HANDLER_STATUS_PAGE,
    HANDLER_FEDERATE,
    HANDLER_OTHER,
    HANDLER_COUNT
};

/* Response classes counted per handler: the codes drwatch answers with. */
enum http_code {
    CODE_200,
    CODE_400,
    CODE_401,
    CODE_403,
    CODE_404,
    CODE_405,
    CODE_413,
    CODE_414,
    CODE_431,
    CODE_500,
    CODE_501,
    CODE_503,
    CODE_COUNT
};

/* Why a connection was refused, and why drwatch closed one (exporter/http_conns.h). */
enum http_refused { HTTP_REFUSED_MAX_CONNECTIONS, HTTP_REFUSED_MAX_PER_CLIENT, HTTP_REFUSED_COUNT };
enum http_closed {
    HTTP_CLOSED_READ_TIMEOUT,
    HTTP_CLOSED_IDLE,
    HTTP_CLOSED_EVICTED,
    HTTP_CLOSED_COUNT
};

/* Why a request or connection failed the web config's checks (exporter/web_auth.h). */
enum http_auth_failure {
    HTTP_AUTH_NO_CREDENTIALS,    /* no Basic credentials where basic_auth_users asks for them */
    HTTP_AUTH_WRONG_CREDENTIALS, /* an unknown user or a wrong password */
    HTTP_AUTH_CLIENT_CERT_MISSING,
    HTTP_AUTH_CLIENT_CERT_INVALID, /* does not verify against client_ca_file */
    HTTP_AUTH_FAILURE_COUNT
};

struct drwatch_stats {
    double start_time; /* wall clock seconds, set once before threads start */
    atomic_uint_fast64_t reloads_ok, reloads_failed;
    atomic_int last_reload_ok;          /* 1 or 0 */
    _Atomic double last_reload_success; /* wall clock seconds */
    atomic_uint_fast64_t http_requests[HANDLER_COUNT][CODE_COUNT];
    atomic_uint_fast64_t http_connections;       /* open now */
    atomic_uint_fast64_t http_connections_limit; /* the cap in force */
    atomic_uint_fast64_t http_connections_refused[HTTP_REFUSED_COUNT];
    atomic_uint_fast64_t http_connections_closed[HTTP_CLOSED_COUNT];
    atomic_uint_fast64_t http_body_bytes;     /* request bodies held now (reserved) */
    atomic_uint_fast64_t http_bodies_refused; /* 503: the total was reached */
    atomic_uint_fast64_t http_tls_handshake_errors;
    atomic_uint_fast64_t http_auth_failures[HTTP_AUTH_FAILURE_COUNT];
    atomic_uint_fast64_t web_config_reload_failures;
    atomic_int web_config_last_reload_ok; /* 1 or 0 */
    atomic_uint_fast64_t snapshots_published;
    _Atomic double last_publish_seconds; /* time to merge and pre-render the last snapshot */
    atomic_uint_fast64_t snapshot_series;
    atomic_uint_fast64_t snapshot_conflicts_total;
};

const char *http_handler_name(enum http_handler h);
const char *http_code_text(enum http_code c);
const char *http_refused_name(enum http_refused r);
const char *http_closed_name(enum http_closed c);
const char *http_auth_failure_name(enum http_auth_failure f);
enum http_code http_code_of(unsigned status);

#endif
