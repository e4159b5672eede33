/* peer.h: what of the `peer` section other parts need, through main: the target of the
 * other site's drwatch, whose URL, CA and client certificate the switchover part uses to send
 * the peer protocol's messages (switchover/peer_link.h) over the same mTLS link. */
#ifndef DRWATCH_PEER_H
#define DRWATCH_PEER_H

#include "http_target.h"

/* The first target of the `peer` section (its config struct, as config_module gives it)
 * whose site is not `site`; NULL when section is NULL or has none. Valid while the config
 * lives. */
const struct http_target *peer_config_target(const void *section, const char *site);

#endif
