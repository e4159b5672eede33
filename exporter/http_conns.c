/* http_conns.c: the connection table (see http_conns.h): a list of open connections with
 * their deadlines, and a chained hash of per-client counts, both under one mutex. The
 * libmicrohttpd callbacks that call in here run on its threads; the watchdog calls
 * http_conns_reap. A connection's socket is shut down only under the mutex and only while the
 * connection is in the list: libmicrohttpd tells us it closes a connection (http_conns_close)
 * before it closes the socket, so a reused descriptor number is never shut down by mistake. */
#include "http_conns.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "clock.h"
#include "xalloc.h"

/* A client: an IPv4 address, or the /64 of an IPv6 address (one host's usual share). */
struct client_key {
    unsigned char b[9]; /* b[0]: 4, 6 or 0 (not IP: all such clients count as one) */
};

struct client {
    struct client_key key;
    unsigned n; /* open connections */
    struct client *next;
};

struct http_conn {
    struct http_conn *prev, *next; /* in the list while counted (not refused, not evicted) */
    struct client *client;
    int fd;
    bool refused, evicted;
    _Atomic int64_t deadline_ms; /* 0: none (the request is being handled or answered) */
    atomic_bool in_request, answered_once;
};

struct http_conns {
    struct http_limits lim;
    struct drwatch_stats *st;
    pthread_mutex_t lock;
    struct http_conn *head;
    unsigned open;
    unsigned evicting; /* evicted, not yet closed by libmicrohttpd: they still hold a socket */
    struct client **buckets;
    size_t mask;
};

int http_limits_fit(struct http_limits *l, uint64_t fd_limit, char *note, size_t notelen)
{
    uint64_t room = fd_limit > HTTP_FD_RESERVE ? fd_limit - HTTP_FD_RESERVE : 0;
    note[0] = '\0';
    if (room < HTTP_MIN_CONNECTIONS) {
        snprintf(note, notelen,
                 "the open-file limit (%llu) leaves room for %llu HTTP connections after the %d "
                 "descriptors kept for collectors; at least %d are needed: raise it (ulimit -n, "
                 "systemd's LimitNOFILE=)",
                 (unsigned long long)fd_limit, (unsigned long long)room, HTTP_FD_RESERVE,
                 HTTP_MIN_CONNECTIONS);
        return -1;
    }
    if (l->max_connections > room) {
        snprintf(note, notelen,
                 "--web.max-connections lowered from %u to %llu: the open-file limit is %llu and "
                 "%d descriptors are kept for collectors",
                 l->max_connections, (unsigned long long)room, (unsigned long long)fd_limit,
                 HTTP_FD_RESERVE);
        l->max_connections = (unsigned)room;
    }
    return 0;
}

int http_limits_fit_process(struct http_limits *l, char *note, size_t notelen)
{
    struct rlimit rl = {0, 0};
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < rl.rlim_max) {
        /* drwatch never uses select(2), so descriptors above FD_SETSIZE are fine. */
        struct rlimit up = {rl.rlim_max, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &up) == 0) rl = up;
    }
    return http_limits_fit(l, rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : rl.rlim_cur, note,
                           notelen);
}

static void client_key(const struct sockaddr *sa, struct client_key *k)
{
    memset(k, 0, sizeof(*k));
    if (sa && sa->sa_family == AF_INET) {
        k->b[0] = 4;
        memcpy(k->b + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    } else if (sa && sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        bool mapped = IN6_IS_ADDR_V4MAPPED(a); /* an IPv4 client on a dual-stack socket */
        k->b[0] = mapped ? 4 : 6;
        memcpy(k->b + 1, a->s6_addr + (mapped ? 12 : 0), mapped ? 4 : 8);
    }
}

static struct client **client_slot(struct http_conns *cs, const struct client_key *k)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < sizeof(k->b); i++) h = (h ^ k->b[i]) * 16777619u;
    struct client **slot = &cs->buckets[h & cs->mask];
    while (*slot && memcmp((*slot)->key.b, k->b, sizeof(k->b)) != 0) slot = &(*slot)->next;
    return slot; /* the client's link, or the NULL link at the end of its chain */
}

struct http_conns *http_conns_new(const struct http_limits *l, struct drwatch_stats *st)
{
    struct http_conns *cs = xcalloc(1, sizeof(*cs));
    cs->lim = *l;
    cs->st = st;
    pthread_mutex_init(&cs->lock, NULL);
    size_t n = 64;
    while (n < l->max_connections) n *= 2;
    cs->buckets = xcalloc(n, sizeof(*cs->buckets));
    cs->mask = n - 1;
    atomic_store(&st->http_connections_limit, l->max_connections);
    return cs;
}

void http_conns_free(struct http_conns *cs)
{
    if (!cs) return;
    for (size_t i = 0; i <= cs->mask; i++) {
        for (struct client *c = cs->buckets[i], *next; c; c = next) {
            next = c->next;
            free(c);
        }
    }
    free(cs->buckets);
    pthread_mutex_destroy(&cs->lock);
    free(cs);
}

/* Stops counting c: unlinks it and gives back its slots. Under the lock. */
static void release(struct http_conns *cs, struct http_conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        cs->head = c->next;
    if (c->next) c->next->prev = c->prev;
    cs->open--;
    if (--c->client->n == 0) {
        struct client **slot = client_slot(cs, &c->client->key);
        *slot = c->client->next;
        free(c->client);
    }
    c->client = NULL;
    atomic_store(&cs->st->http_connections, cs->open);
}

/* Makes room for one more connection when every slot is taken: shuts down the one that has
 * waited longest for a whole request (the earliest read deadline; an idle keep-alive
 * connection or a slow sender), so that a flood of slow connections cannot keep a scraper
 * out. Its slot is free at once, its socket once libmicrohttpd has closed it: at most
 * HTTP_EVICTING_MAX wait for that, which bounds the descriptors a burst of new connections
 * can hold. Returns false when none can be evicted now. Under the lock. */
static bool evict_one(struct http_conns *cs)
{
    struct http_conn *victim = NULL;
    int64_t oldest = INT64_MAX;
    for (struct http_conn *c = cs->head; c; c = c->next) {
        int64_t d = atomic_load(&c->deadline_ms);
        if (d && d < oldest) oldest = d, victim = c;
    }
    if (!victim || cs->evicting >= HTTP_EVICTING_MAX) return false;
    cs->evicting++;
    atomic_store(&victim->deadline_ms, 0);
    release(cs, victim);
    victim->evicted = true;
    shutdown(victim->fd, SHUT_RDWR);
    atomic_fetch_add(&cs->st->http_connections_closed[HTTP_CLOSED_EVICTED], 1);
    return true;
}

/* Which limit a new connection from k would pass, or -1; evicts a connection if that makes
 * room. Under the lock. */
static int over_limit(struct http_conns *cs, const struct client_key *k)
{
    struct client *c = *client_slot(cs, k);
    if (cs->lim.max_per_client && c && c->n >= cs->lim.max_per_client)
        return HTTP_REFUSED_MAX_PER_CLIENT;
    if (cs->open >= cs->lim.max_connections && !evict_one(cs)) return HTTP_REFUSED_MAX_CONNECTIONS;
    return -1;
}

bool http_conns_admit(struct http_conns *cs, const struct sockaddr *addr)
{
    struct client_key k;
    client_key(addr, &k);
    pthread_mutex_lock(&cs->lock);
    int why = over_limit(cs, &k);
    pthread_mutex_unlock(&cs->lock);
    if (why >= 0) atomic_fetch_add(&cs->st->http_connections_refused[why], 1);
    return why < 0;
}

/* Counts c in and links it. Under the lock. */
static void take(struct http_conns *cs, struct http_conn *c, const struct client_key *k)
{
    struct client **slot = client_slot(cs, k);
    if (!*slot) {
        *slot = xcalloc(1, sizeof(**slot));
        (*slot)->key = *k;
    }
    c->client = *slot;
    c->client->n++;
    cs->open++;
    c->next = cs->head;
    if (cs->head) cs->head->prev = c;
    cs->head = c;
    atomic_store(&cs->st->http_connections, cs->open);
}

struct http_conn *http_conns_open(struct http_conns *cs, const struct sockaddr *addr, int fd)
{
    struct http_conn *c = xcalloc(1, sizeof(*c));
    c->fd = fd;
    atomic_init(&c->deadline_ms, time_mono_ms() + cs->lim.read_timeout_ms);
    struct client_key k;
    client_key(addr, &k);
    pthread_mutex_lock(&cs->lock);
    int why = over_limit(cs, &k);
    if (why < 0) take(cs, c, &k);
    pthread_mutex_unlock(&cs->lock);
    if (why >= 0) {
        c->refused = true;
        atomic_fetch_add(&cs->st->http_connections_refused[why], 1);
        shutdown(fd, SHUT_RDWR);
    }
    return c;
}

void http_conns_close(struct http_conns *cs, struct http_conn *c)
{
    if (!c) return;
    pthread_mutex_lock(&cs->lock);
    if (c->evicted)
        cs->evicting--;
    else if (!c->refused)
        release(cs, c);
    pthread_mutex_unlock(&cs->lock);
    free(c);
}

bool http_conn_refused(const struct http_conn *c)
{
    return c->refused;
}

void http_conn_request_started(struct http_conn *c)
{
    atomic_store(&c->in_request, true);
}

void http_conn_request_read(struct http_conn *c)
{
    atomic_store(&c->deadline_ms, 0);
}

void http_conn_answered(struct http_conns *cs, struct http_conn *c)
{
    atomic_store(&c->in_request, false);
    atomic_store(&c->answered_once, true);
    atomic_store(&c->deadline_ms, time_mono_ms() + cs->lim.read_timeout_ms);
}

size_t http_conns_reap(struct http_conns *cs, int64_t now_ms)
{
    size_t n = 0;
    pthread_mutex_lock(&cs->lock);
    for (struct http_conn *c = cs->head; c; c = c->next) {
        int64_t d = atomic_load(&c->deadline_ms);
        if (d == 0 || d > now_ms) continue;
        atomic_store(&c->deadline_ms, 0);
        bool idle = atomic_load(&c->answered_once) && !atomic_load(&c->in_request);
        atomic_fetch_add(
            &cs->st->http_connections_closed[idle ? HTTP_CLOSED_IDLE : HTTP_CLOSED_READ_TIMEOUT],
            1);
        shutdown(c->fd, SHUT_RDWR);
        n++;
    }
    pthread_mutex_unlock(&cs->lock);
    return n;
}
