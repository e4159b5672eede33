/* test_http_conns.c: the HTTP connection table (http_conns.h) on socket pairs: the per-client
 * limit, eviction of the connection waiting longest when every slot is taken, refusal when
 * none can be evicted, the read deadline, and the counts in struct drwatch_stats. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "http_conns.h"
#include "tap.h"

struct end {
    int ours, peer; /* the server's socket and the client's */
    struct http_conn *c;
};

static struct sockaddr_in addr(const char *ip)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

static void connect_from(struct http_conns *cs, const char *ip, struct end *e)
{
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    e->ours = sv[0];
    e->peer = sv[1];
    struct sockaddr_in a = addr(ip);
    e->c = http_conns_open(cs, (struct sockaddr *)&a, e->ours);
    usleep(3000); /* deadlines are in ms: each connection's is later than the one before */
}

/* Whether the server side shut the connection down: the client reads end of file. */
static int shut(const struct end *e)
{
    char b;
    return recv(e->peer, &b, 1, MSG_DONTWAIT) == 0;
}

static void hang_up(struct http_conns *cs, struct end *e)
{
    http_conns_close(cs, e->c);
    close(e->ours);
    close(e->peer);
}

int main(void)
{
    struct drwatch_stats st = {0};
    struct http_limits lim = {.max_connections = 3, .max_per_client = 2, .read_timeout_ms = 60000};
    struct http_conns *cs = http_conns_new(&lim, &st);
    struct end a1, a2, a3, b1, c1, d1;
    struct sockaddr_in a = addr("10.0.0.1");
    connect_from(cs, "10.0.0.1", &a1);
    connect_from(cs, "10.0.0.1", &a2);
    ok(!http_conn_refused(a1.c) && !http_conn_refused(a2.c), "two connections from one client");
    ok(!http_conns_admit(cs, (struct sockaddr *)&a), "a third is not admitted (limit 2)");
    connect_from(cs, "10.0.0.1", &a3);
    ok(http_conn_refused(a3.c) && shut(&a3), "nor registered: refused and shut down");
    is_int(st.http_connections_refused[HTTP_REFUSED_MAX_PER_CLIENT], 2, "max_per_client 2");
    connect_from(cs, "10.0.0.2", &b1);
    is_int(st.http_connections, 3, "three open: every slot taken");
    http_conn_answered(cs, a1.c); /* a1's deadline is now the latest */
    usleep(3000);
    connect_from(cs, "10.0.0.3", &c1);
    ok(!http_conn_refused(c1.c) && shut(&a2) && !shut(&a1) && !shut(&b1),
       "a fourth client takes the slot of the connection waiting longest (a2)");
    is_int(st.http_connections_closed[HTTP_CLOSED_EVICTED], 1, "evicted 1");
    is_int(st.http_connections, 3, "still three counted");
    http_conn_request_read(a1.c);
    http_conn_request_read(b1.c);
    http_conn_request_read(c1.c);
    connect_from(cs, "10.0.0.4", &d1);
    ok(http_conn_refused(d1.c) && shut(&d1),
       "every connection being answered: the next one is refused");
    is_int(st.http_connections_refused[HTTP_REFUSED_MAX_CONNECTIONS], 1, "max_connections 1");
    http_conn_answered(cs, a1.c);
    http_conn_request_started(a1.c);
    http_conn_answered(cs, b1.c);
    is_int(http_conns_reap(cs, time_mono_ms() + 1000), 0, "nothing is past its deadline yet");
    is_int(http_conns_reap(cs, time_mono_ms() + 61000), 2, "a minute later two are");
    ok(shut(&a1) && shut(&b1) && !shut(&c1), "... shut down; the one being answered is not");
    is_int(st.http_connections_closed[HTTP_CLOSED_IDLE], 1, "b1 was idle after an answer");
    is_int(st.http_connections_closed[HTTP_CLOSED_READ_TIMEOUT], 1,
           "a1 had its next request under way: read_timeout");
    hang_up(cs, &a1);
    hang_up(cs, &a2);
    hang_up(cs, &a3);
    hang_up(cs, &b1);
    hang_up(cs, &c1);
    hang_up(cs, &d1);
    is_int(st.http_connections, 0, "all closed: none counted");
    http_conns_free(cs);
    return done_testing();
}
