/* fuzz_patroni.c: the Patroni mapping on arbitrary bytes. The first byte picks the document
 * ('0' a member status document, '1' /cluster, '2' /config, anything else all three), the
 * rest is the body; whatever parses goes through patroni_emit (with a board holding a primary
 * of the same system) and is rendered, as the collector does. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "patroni.h"
#include "registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    char kind = (char)data[0];
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    const char *reason;
    char err[200];
    struct patroni_node node;
    struct patroni_cluster cluster;
    struct patroni_config config;
    bool has_node = (kind == '0' || kind > '2') &&
                    patroni_parse_node(body, len, &node, &reason, err, sizeof(err)) == 0;
    bool has_cluster = (kind == '1' || kind > '2') &&
                       patroni_parse_cluster(body, len, &cluster, &reason, err, sizeof(err)) == 0;
    bool has_config = (kind == '2' || kind > '2') &&
                      patroni_parse_config(body, len, &config, &reason, err, sizeof(err)) == 0;
    struct walpos *board = walpos_new();
    int other;
    walpos_post(board, &other, has_node && node.sysid ? node.sysid : "1", 1, 1000, 100);
    struct patroni_endpoint_view ep = {.url = "http://127.0.0.1:8008",
                                       .up = has_node,
                                       .leader_status = 200,
                                       .node = has_node ? &node : NULL,
                                       .known_name = "m"};
    struct patroni_view v = {.site = "gold",
                             .endpoints = &ep,
                             .nendpoints = 1,
                             .cluster = has_cluster ? &cluster : NULL,
                             .config = has_config ? &config : NULL};
    struct metric_set *set = mset_new();
    patroni_emit(set, &v, board, &v, 101, 15);
    struct snapshot *snap = snapshot_new(&set, 1, 1);
    const char *text;
    size_t tlen;
    /* Only that nothing crashes is asked here: the results are dropped on purpose. */
    DRW_IGNORE(snapshot_render(snap, EXPO_TEXT, false, &text, &tlen));
    DRW_IGNORE(snapshot_render(snap, EXPO_OPENMETRICS, false, &text, &tlen));
    snapshot_unref(snap);
    mset_unref(set);
    walpos_unref(board);
    if (has_node) patroni_node_clear(&node);
    if (has_cluster) patroni_cluster_clear(&cluster);
    if (has_config) patroni_config_clear(&config);
    return 0;
}
