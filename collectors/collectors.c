/* collectors.c: the one static table of collectors (STYLE.md). Adding a collector means one
 * .c file here and one line in this table. */
#include "collectors.h"

#include "xalloc.h"

/* One collector per line, so that adding one is a one-line change. */
// clang-format off
const struct collector_ops *const collector_table[] = {
    &textfile_collector,
    &self_collector,
    &patroni_collector,
    &postgres_collector,
    &kong_collector,
    &fluentd_collector,
    &configmap_collector,
    &tekton_collector,
    &gslb_collector,
    &peer_collector,
    &peer_listen_collector,
};
// clang-format on

const size_t collector_table_len = ARRAY_LEN(collector_table);
