/* fuzz_k8s_watch.c: arbitrary bytes as one line of a Kubernetes watch stream through
 * k8s_watch_parse (every line the state ConfigMap's watch receives goes through it), then the
 * event's object through the ConfigMap reading that follows (k8s_configmap_data and _value). */
#include <stdint.h>
#include <string.h>

#include "k8s.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256], v[64];
    struct k8s_watch_event ev;
    if (k8s_watch_parse((const char *)data, size, &ev, err, sizeof(err)) < 0) {
        if (ev.object || !err[0]) __builtin_trap();
        return 0;
    }
    if (!ev.object || strlen(ev.resource_version) >= sizeof(ev.resource_version) ||
        strlen(ev.status.message) >= sizeof(ev.status.message))
        __builtin_trap();
    json_t *cm;
    if (k8s_configmap_data(ev.object, &cm, err, sizeof(err)) == 0) {
        if (strlen(k8s_configmap_value(cm, "transition", v, sizeof(v))) >= sizeof(v))
            __builtin_trap();
        (void)k8s_configmap_value(cm, "last_stable_state", v, sizeof(v));
    }
    k8s_watch_event_clear(&ev);
    return 0;
}
