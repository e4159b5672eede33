/* fuzz_k8s_watch.c: arbitrary bytes as one line of a Kubernetes watch stream through
 * k8s_watch_parse (every line the state ConfigMap's watch receives goes through it), then the
 * event's object through what the switchover part reads of it (sw_cm_view_read, on
 * k8s_configmap_data and _value) and decides (sw_cm_decide), and the answer's patch body. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s.h"
#include "state_configmap.h"

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
    struct sw_cm_view view;
    struct sw_cm_memory mem = {0};
    if (sw_cm_view_read(ev.object, &view, err, sizeof(err)) == 0 &&
        sw_cm_decide(&view, &mem) == SW_CM_NEW) {
        sw_cm_remember(&mem, view.rv, view.transition);
        if (sw_cm_decide(&view, &mem) != SW_CM_ANSWERING) __builtin_trap();
        struct sw_cm_patch p = {.answer = true};
        snprintf(p.request, sizeof(p.request), "%s", view.transition);
        char *body = sw_cm_patch_body(&p, view.rv);
        json_t *back = body ? json_loads(body, 0, NULL) : NULL;
        if (!back) __builtin_trap(); /* whatever was read, what goes back is JSON */
        json_decref(back);
        free(body);
    }
    k8s_watch_event_clear(&ev);
    return 0;
}
