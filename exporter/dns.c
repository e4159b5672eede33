/* dns.c: c-ares with its socket-state callback feeding the loop, and a loop timer that follows
 * ares_timeout(). Answers are parsed with ares_parse_a_reply to keep every record's TTL (it
 * follows a CNAME chain in the answer). A caller with its own deadline cancels with dns_cancel:
 * c-ares then reports ARES_ECANCELLED, which is swallowed like ARES_EDESTRUCTION. */
#include "dns.h"

#include <ares.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "xalloc.h"

#define DNS_MAX_SOCKS 16

struct dns_sock {
    int fd;
    struct loop_watch *watch;
};

struct dns {
    struct loop *loop;
    ares_channel channel;
    struct loop_timer *timer;
    struct dns_sock socks[DNS_MAX_SOCKS];
    bool destroying;
    bool cancelling;
};

struct dns_query {
    struct dns *d;
    dns_done_fn fn;
    void *arg;
    double started;
};

static void rearm_timer(struct dns *d)
{
    struct timeval tv;
    if (ares_timeout(d->channel, NULL, &tv))
        loop_timer_start(d->timer, (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000 + 1);
    else
        loop_timer_stop(d->timer);
}

static void on_io(void *arg, int fd, unsigned events)
{
    struct dns *d = arg;
    ares_socket_t r = (events & (LOOP_READ | LOOP_ERROR)) ? fd : ARES_SOCKET_BAD;
    ares_socket_t w = (events & LOOP_WRITE) ? fd : ARES_SOCKET_BAD;
    ares_process_fd(d->channel, r, w);
    rearm_timer(d);
}

static void on_timer(void *arg)
{
    struct dns *d = arg;
    ares_process_fd(d->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    rearm_timer(d);
}

static void sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
    struct dns *d = data;
    struct dns_sock *slot = NULL, *free_slot = NULL;
    for (size_t i = 0; i < DNS_MAX_SOCKS; i++) {
        if (d->socks[i].watch && d->socks[i].fd == fd)
            slot = &d->socks[i];
        else if (!d->socks[i].watch && !free_slot)
            free_slot = &d->socks[i];
    }
    unsigned ev = (readable ? LOOP_READ : 0u) | (writable ? LOOP_WRITE : 0u);
    if (!ev) {
        if (slot) {
            loop_watch_del(slot->watch);
            slot->watch = NULL;
        }
        return;
    }
    if (slot) {
        loop_watch_set(slot->watch, ev);
    } else if (free_slot) {
        free_slot->fd = fd;
        free_slot->watch = loop_watch_add(d->loop, fd, ev, on_io, d);
    }
    /* More than DNS_MAX_SOCKS sockets cannot happen with the few servers a config names;
     * such a query would time out and be reported as "timeout". */
}

struct dns *dns_new(struct loop *l, const struct dns_opts *o, char *err, size_t errlen)
{
    struct dns *d = xcalloc(1, sizeof(*d));
    d->loop = l;
    struct ares_options ao = {0};
    ao.sock_state_cb = sock_state_cb;
    ao.sock_state_cb_data = d;
    ao.timeout = o->timeout_ms > 0 ? o->timeout_ms : 2000;
    ao.tries = o->tries > 0 ? o->tries : 2;
    ao.flags = ARES_FLAG_NOCHECKRESP; /* we want SERVFAIL and REFUSED reported as such */
    int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS;
    int rc = ares_init_options(&d->channel, &ao, mask);
    if (rc == ARES_SUCCESS && o->servers && *o->servers)
        rc = ares_set_servers_ports_csv(d->channel, o->servers);
    if (rc != ARES_SUCCESS) {
        snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
        if (d->channel) ares_destroy(d->channel);
        free(d);
        return NULL;
    }
    d->timer = loop_timer_new(l, on_timer, d);
    return d;
}

void dns_free(struct dns *d)
{
    if (!d) return;
    d->destroying = true;
    ares_destroy(d->channel); /* pending callbacks run with ARES_EDESTRUCTION */
    for (size_t i = 0; i < DNS_MAX_SOCKS; i++) loop_watch_del(d->socks[i].watch);
    loop_timer_free(d->timer);
    free(d);
}

static const char *status_name(int status)
{
    switch (status) {
    case ARES_SUCCESS: return "ok";
    case ARES_ENODATA: return "nodata";
    case ARES_ENOTFOUND: return "nxdomain";
    case ARES_ESERVFAIL: return "servfail";
    case ARES_EREFUSED: return "refused";
    case ARES_ETIMEOUT: return "timeout";
    case ARES_EFORMERR: return "formerr";
    case ARES_ECONNREFUSED: return "connrefused";
    default: return "error";
    }
}

void dns_answer_parse(int status, const unsigned char *abuf, int alen, struct dns_answer *a)
{
    *a = (struct dns_answer){.status = status_name(status), .detail = ares_strerror(status)};
    if (status != ARES_SUCCESS) return;
    if (!abuf || alen <= 0) {
        a->status = "error";
        a->detail = "empty reply";
        return;
    }
    struct ares_addrttl rr[DNS_MAX_ADDRS];
    int n = DNS_MAX_ADDRS;
    int prc = ares_parse_a_reply(abuf, alen, NULL, rr, &n);
    if (prc == ARES_SUCCESS) {
        for (int i = 0; i < n && i < DNS_MAX_ADDRS; i++) {
            a->addrs[i] = rr[i].ipaddr;
            a->ttls[i] = rr[i].ttl;
        }
        a->naddrs = (size_t)(n < DNS_MAX_ADDRS ? n : DNS_MAX_ADDRS);
        if (a->naddrs == 0) a->status = "nodata";
    } else {
        a->status = prc == ARES_ENODATA ? "nodata" : "error";
        a->detail = ares_strerror(prc);
    }
}

static void query_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    (void)timeouts;
    struct dns_query *q = arg;
    if (status == ARES_EDESTRUCTION || q->d->destroying || q->d->cancelling) {
        free(q);
        return;
    }
    struct dns_answer a;
    dns_answer_parse(status, abuf, alen, &a);
    a.duration_s = time_mono_s() - q->started;
    q->fn(q->arg, &a);
    free(q);
}

void dns_query_a(struct dns *d, const char *name, dns_done_fn fn, void *arg)
{
    struct dns_query *q = xcalloc(1, sizeof(*q));
    *q = (struct dns_query){.d = d, .fn = fn, .arg = arg, .started = time_mono_s()};
    ares_query(d->channel, name, ns_c_in, ns_t_a, query_cb, q);
    rearm_timer(d);
}

void dns_cancel(struct dns *d)
{
    if (!d) return;
    d->cancelling = true;
    ares_cancel(d->channel); /* runs every pending callback with ARES_ECANCELLED */
    d->cancelling = false;
    rearm_timer(d);
}

void dns_servers(const struct dns *d, char *out, size_t outlen)
{
    if (!outlen) return;
    out[0] = '\0';
    struct ares_addr_port_node *servers = NULL;
    if (ares_get_servers_ports(d->channel, &servers) != ARES_SUCCESS) return;
    size_t n = 0;
    for (struct ares_addr_port_node *s = servers; s && n < outlen; s = s->next) {
        char ip[INET6_ADDRSTRLEN] = "?";
        inet_ntop(s->family, &s->addr, ip, sizeof(ip));
        int port = s->udp_port ? s->udp_port : 53;
        int w = s->family == AF_INET6
                    ? snprintf(out + n, outlen - n, "%s[%s]:%d", n ? "," : "", ip, port)
                    : snprintf(out + n, outlen - n, "%s%s:%d", n ? "," : "", ip, port);
        if (w < 0) break;
        n += (size_t)w;
    }
    if (n >= outlen) out[outlen - 1] = '\0';
    ares_free_data(servers);
}
