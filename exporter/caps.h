/* caps.h: the hard caps on what the outside world sizes, in one place (curl's dynbuf.h
 * keeps its DYN_* limits the same way). Every struct buf is created with one of these. */
#ifndef DRWATCH_CAPS_H
#define DRWATCH_CAPS_H

#define CAP_KIB ((size_t)1024)
#define CAP_MIB ((size_t)1024 * 1024)

/* ---- the HTTP server ---- */
#define CAP_HTTP_REPLY (64 * CAP_MIB) /* a route's answer (an API listing) */
#define CAP_HTTP_ERROR (4 * CAP_KIB)  /* an error text */
/* Request bodies held at once across every connection; each route also caps its own. */
#define CAP_HTTP_BODY_TOTAL (4 * CAP_MIB)

#endif
