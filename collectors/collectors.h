/* collectors.h: every collector's ops, for the table in collectors.c. */
#ifndef DRWATCH_COLLECTORS_H
#define DRWATCH_COLLECTORS_H

#include "collector.h"

extern const struct collector_ops textfile_collector;
extern const struct collector_ops self_collector;
extern const struct collector_ops patroni_collector;
extern const struct collector_ops postgres_collector;
extern const struct collector_ops kong_collector;
extern const struct collector_ops fluentd_collector;
extern const struct collector_ops configmap_collector;
extern const struct collector_ops tekton_collector;
extern const struct collector_ops gslb_collector;
extern const struct collector_ops peer_collector;
extern const struct collector_ops peer_listen_collector;

/* The table of every collector, in collectors.c; main hands it to the core. */
extern const struct collector_ops *const collector_table[];
extern const size_t collector_table_len;

#endif
