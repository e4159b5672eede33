/* act_tfvars.c: the tfvars actuator. The deploy pipeline reads two flags from a Secret in the
 * Tekton namespace, in_recovery and in_maintenance ("true" or "false"), and turns them into
 * Terraform variables. The old agent's TFVARS(r, m) is one call: PATCH
 * api/v1/namespaces/<tekton>/secrets/<tfvars_secret> with stringData {in_recovery: r,
 * in_maintenance: m}; the step's arguments say both.
 *
 * check reads the Secret: both flags already as asked -> done, nothing written. act makes the
 * old agent's patch (merge-patch of stringData, which the apiserver folds into base64 data)
 * and reads the Secret it answers with: the step ends with what the Secret now holds, and
 * fails if that is not what was asked. Uses: act_k8s.h. */
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "act_k8s.h"
#include "actuators.h"

static const char *const tfvars_rbac[] = {"\"\" secrets get", "\"\" secrets patch", NULL};

struct flags {
    int recovery, maintenance; /* 1 "true", 0 "false", -1 absent or anything else */
};

static struct flags wanted(struct sw_phase *ph)
{
    const struct sw_step *st = sw_phase_step(ph);
    return (struct flags){.recovery = sw_step_arg(st, "in_recovery", 0) != 0,
                          .maintenance = sw_step_arg(st, "in_maintenance", 0) != 0};
}

/* A data value: base64 of "true" or "false". */
static int flag_of(json_t *secret, const char *key)
{
    const char *v = k8s_json_str(secret, "data", key, K8S_END);
    size_t n = v ? strlen(v) : 0;
    unsigned char out[16];
    if (n == 0 || n % 4 != 0 || n / 4 * 3 > sizeof(out) - 1) return -1;
    int k = EVP_DecodeBlock(out, (const unsigned char *)v, (int)n);
    if (k < 0) return -1;
    k -= (v[n - 1] == '=') + (v[n - 2] == '='); /* EVP_DecodeBlock counts the padding */
    if (k == 4 && memcmp(out, "true", 4) == 0) return 1;
    if (k == 5 && memcmp(out, "false", 5) == 0) return 0;
    return -1;
}

static const char *flag_text(int f)
{
    return f == 1 ? "true" : f == 0 ? "false" : "(absent or not true/false)";
}

static struct flags held(json_t *secret, char *text, size_t textlen)
{
    struct flags f = {flag_of(secret, "in_recovery"), flag_of(secret, "in_maintenance")};
    snprintf(text, textlen, "in_recovery=%s, in_maintenance=%s", flag_text(f.recovery),
             flag_text(f.maintenance));
    return f;
}

static bool same(struct flags a, struct flags b)
{
    return a.recovery == b.recovery && a.maintenance == b.maintenance;
}

static const char *secret_name(struct act_op *op)
{
    return act_op_env(op)->names.tfvars_secret;
}

static void on_read(struct act_op *op, const struct k8s_response *r, json_t *secret)
{
    (void)r;
    char text[120];
    struct flags f = held(secret, text, sizeof(text));
    if (same(f, wanted(act_op_phase(op))))
        return act_op_end(op, SW_DONE, "the Secret %s already holds %s", secret_name(op), text);
    act_op_end(op, SW_NOT_DONE, "the Secret %s holds %s", secret_name(op), text);
}

static struct act_op *start(struct sw_phase *ph)
{
    const struct act_env *e = sw_phase_env(ph);
    struct act_op *op = act_op_new(ph, 0, e->ns.tekton, "namespaces.tekton");
    if (op && !act_op_name_ok(op, e->names.tfvars_secret, "names.tfvars_secret")) return NULL;
    return op;
}

static void tfvars_check(struct sw_phase *ph)
{
    struct act_op *op = start(ph);
    if (!op) return;
    act_op_call(op, "GET", NULL, 0, on_read, "/api/v1/namespaces/%s/secrets/%s", act_op_ns(op),
                secret_name(op));
}

static void on_written(struct act_op *op, const struct k8s_response *r, json_t *secret)
{
    (void)r;
    char text[120];
    struct flags f = held(secret, text, sizeof(text));
    if (!same(f, wanted(act_op_phase(op))))
        return act_op_end(op, SW_ERROR, "the Secret %s was patched but holds %s", secret_name(op),
                          text);
    act_op_end(op, SW_DONE, "the Secret %s now holds %s", secret_name(op), text);
}

static void tfvars_act(struct sw_phase *ph)
{
    struct act_op *op = start(ph);
    if (!op) return;
    struct flags w = wanted(ph);
    json_t *patch =
        json_pack("{s:{s:s,s:s}}", "stringData", "in_recovery", w.recovery ? "true" : "false",
                  "in_maintenance", w.maintenance ? "true" : "false");
    act_op_call(op, "PATCH", patch, 0, on_written, "/api/v1/namespaces/%s/secrets/%s",
                act_op_ns(op), secret_name(op));
}

const struct actuator_ops tfvars_actuator = {
    .action = "tfvars",
    .check = tfvars_check,
    .act = tfvars_act,
    .poll = NULL,
    .cancel = act_op_cancel,
    .rbac = tfvars_rbac,
    .rbac_namespace = "tekton",
};
