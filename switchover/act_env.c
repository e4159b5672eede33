/* act_env.c: the actuators' settings and their resolution (see act_env.h). */
#include "act_env.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

const struct cfg_key act_config_keys_kubernetes[] = {K8S_TARGET_KEYS(struct act_k8s, t), CFG_END};
const struct cfg_key act_config_keys_http[] = {HTTP_TARGET_KEYS(struct act_http, t), CFG_END};

const struct cfg_key act_config_keys_namespaces[] = {
    {.name = "tools",
     .type = CFG_STRING,
     .offset = offsetof(struct act_namespaces, tools),
     .expect = "the namespace of the health API and the state ConfigMap (default: kubernetes'"
               " namespace)"},
    {.name = "solution",
     .type = CFG_STRING,
     .offset = offsetof(struct act_namespaces, solution),
     .expect = "the namespace of Keycloak, Kong and Patroni"},
    {.name = "tekton",
     .type = CFG_STRING,
     .offset = offsetof(struct act_namespaces, tekton),
     .expect = "the namespace of the tfvars Secret and the PipelineRuns (default: tools)"},
    CFG_END,
};

#define NAME_KEY(field, what)                                                            \
    {                                                                                    \
        .name = #field, .type = CFG_STRING, .offset = offsetof(struct act_names, field), \
        .expect = what                                                                   \
    }
const struct cfg_key act_config_keys_names[] = {
    NAME_KEY(state_configmap, "the switchover-state ConfigMap (switchover-state-<env>)"),
    NAME_KEY(health_api, "the health API Deployment (bcgov-health-api-<env>-generic-api)"),
    NAME_KEY(health_pdb, "its PodDisruptionBudget (<health_api>-pdb)"),
    NAME_KEY(tfvars_secret, "the tfvars Secret (terraform-tfvars-<env>)"),
    NAME_KEY(maintenance_page, "the maintenance page Deployment"),
    NAME_KEY(keycloak_selector, "the label selector of Keycloak's HTTP Service"),
    NAME_KEY(kong, "the Kong control plane Deployment (konghc-kong)"),
    NAME_KEY(patroni_env, "Patroni's env-vars ConfigMap (patroni-spilo-env-vars)"),
    NAME_KEY(patroni_statefulset, "Patroni's StatefulSet (patroni-spilo)"),
    NAME_KEY(patroni_config, "Patroni's DCS config ConfigMap (patroni-spilo-config)"),
    NAME_KEY(patroni_pvc_prefix, "the prefix of its volume claims (storage-volume-patroni-spilo-)"),
    CFG_END,
};

const struct cfg_key act_config_keys_standby[] = {
    {.name = "host",
     .type = CFG_STRING,
     .required = true,
     .offset = offsetof(struct act_standby, host),
     .expect = "the other site's primary, as this site's standby cluster reaches it"},
    {.name = "port",
     .type = CFG_INT,
     .def = "5432",
     .offset = offsetof(struct act_standby, port),
     .expect = "its port, 1 to 65535",
     .min = 1,
     .max = 65535},
    CFG_END,
};

const struct cfg_key act_config_keys_patroni[] = {
    HTTP_TARGET_KEYS(struct act_patroni, t),
    {.name = "username",
     .type = CFG_STRING,
     .offset = offsetof(struct act_patroni, username),
     .expect = "the basic-auth user Patroni's restapi.authentication asks of PATCH /config, with "
               "password_file"},
    {.name = "password_file",
     .type = CFG_STRING,
     .offset = offsetof(struct act_patroni, password_file),
     .expect = "a file holding that user's password"},
    {.name = "primary_slot_name",
     .type = CFG_STRING,
     .offset = offsetof(struct act_patroni, primary_slot_name),
     .expect = "the replication slot on the other site's primary this site follows through "
               "when demoted (a permanent slot of the other cluster's config)"},
    {.name = "restore_command",
     .type = CFG_STRING,
     .offset = offsetof(struct act_patroni, restore_command),
     .expect = "the standby_cluster restore_command, when WAL also comes from an archive"},
    {.name = "stall_timeout",
     .type = CFG_DURATION,
     .def = "2m",
     .offset = offsetof(struct act_patroni, stall_timeout_ms),
     .expect = "how long a demotion may leave the leader stopped, leaderless or not streaming "
               "from the other site's primary before its step fails, 1s to 1h",
     .min = 1000,
     .max = 3600000},
    CFG_END,
};

const struct cfg_key act_config_keys_tekton[] = {
    HTTP_TARGET_KEYS(struct act_tekton, http),
    {.name = "hmac_secret_file",
     .type = CFG_STRING,
     .offset = offsetof(struct act_tekton, hmac_secret_file),
     .expect = "the EventListener's webhook secret (X-Hub-Signature), in a file"},
    {.name = "repo",
     .type = CFG_STRING,
     .required = true,
     .offset = offsetof(struct act_tekton, repo),
     .expect = "the repository's clone URL the push body names"},
    {.name = "ref",
     .type = CFG_STRING,
     .required = true,
     .offset = offsetof(struct act_tekton, ref),
     .expect = "the ref the push body names (refs/heads/...)"},
    {.name = "retries",
     .type = CFG_INT,
     .def = "2",
     .offset = offsetof(struct act_tekton, retries),
     .expect = "how many times a failed run is triggered again, 0 to 10",
     .min = 0,
     .max = 10},
    {.name = "retry_interval",
     .type = CFG_DURATION,
     .def = "30s",
     .offset = offsetof(struct act_tekton, retry_interval_ms),
     .expect = "the pause between a failed run and its retry, 0s to 1h",
     .min = 0,
     .max = 3600000},
    {.name = "total_cap",
     .type = CFG_DURATION,
     .def = "900s",
     .offset = offsetof(struct act_tekton, total_cap_ms),
     .expect = "no retry starts later than this after the first trigger, 100ms to 24h",
     .min = 100,
     .max = 86400000},
    {.name = "attempt_timeout",
     .type = CFG_DURATION,
     .def = "360s",
     .offset = offsetof(struct act_tekton, attempt_timeout_ms),
     .expect = "a run still unfinished this long after its trigger is cancelled, 100ms to 24h",
     .min = 100,
     .max = 86400000},
    CFG_END,
};

static char *name_or(const char *given, const char *fmt, const char *arg)
{
    if (given) return xstrdup(given);
    return xasprintf(fmt, arg);
}

static void resolve_names(struct act_env *e, const struct act_config *c)
{
    const struct act_names *n = &c->names;
    const char *env = c->env ? c->env : "dev";
    e->names.state_configmap = name_or(n->state_configmap, "switchover-state-%s", env);
    e->names.health_api = name_or(n->health_api, "bcgov-health-api-%s-generic-api", env);
    e->names.health_pdb = name_or(n->health_pdb, "%s-pdb", e->names.health_api);
    e->names.tfvars_secret = name_or(n->tfvars_secret, "terraform-tfvars-%s", env);
    e->names.maintenance_page =
        name_or(n->maintenance_page, "%s", "keycloak-maintenance-redirect-generic-api");
    e->names.keycloak_selector =
        name_or(n->keycloak_selector, "%s",
                "app.kubernetes.io/component=http,app.kubernetes.io/instance=keycloak");
    e->names.kong = name_or(n->kong, "%s", "konghc-kong");
    e->names.patroni_env = name_or(n->patroni_env, "%s", "patroni-spilo-env-vars");
    e->names.patroni_statefulset = name_or(n->patroni_statefulset, "%s", "patroni-spilo");
    e->names.patroni_config = name_or(n->patroni_config, "%s", "patroni-spilo-config");
    e->names.patroni_pvc_prefix =
        name_or(n->patroni_pvc_prefix, "%s", "storage-volume-patroni-spilo-");
}

/* A target of the config must be this site's: a plan acts only on its own site. */
static int own_site(const struct http_target *t, const char *what, enum sw_site site, char *err,
                    size_t errlen)
{
    if (t->site == (int)site) return 0;
    snprintf(err, errlen,
             "switchover: %s is a target of site %s, but this drwatch runs in %s: "
             "a site's plans act on that site only",
             what, drwatch_sites[t->site], sw_site_name(site));
    return -1;
}

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

/* A deep copy of c, owned by the env: the actuators read it long after a reload may have freed
 * the config it came from (a running plan outlives a reload). */
static struct act_config *config_copy(const struct act_config *c)
{
    struct act_config *o = xmalloc(sizeof(*o));
    *o = *c;
    o->env = dup_or_null(c->env);
    o->namespaces = (struct act_namespaces){dup_or_null(c->namespaces.tools),
                                            dup_or_null(c->namespaces.solution),
                                            dup_or_null(c->namespaces.tekton)};
    o->names = (struct act_names){0}; /* resolved into act_env.names instead */
    if (c->kubernetes) {
        o->kubernetes = xmalloc(sizeof(*o->kubernetes));
        http_target_copy(&o->kubernetes->t.http, &c->kubernetes->t.http);
        o->kubernetes->t.namespace = dup_or_null(c->kubernetes->t.namespace);
    }
    if (c->portal) {
        o->portal = xmalloc(sizeof(*o->portal));
        http_target_copy(&o->portal->t, &c->portal->t);
    }
    if (c->patroni) {
        const struct act_patroni *p = c->patroni;
        o->patroni = xmalloc(sizeof(*o->patroni));
        *o->patroni = *p;
        http_target_copy(&o->patroni->t, &p->t);
        o->patroni->username = dup_or_null(p->username);
        o->patroni->password_file = dup_or_null(p->password_file);
        o->patroni->primary_slot_name = dup_or_null(p->primary_slot_name);
        o->patroni->restore_command = dup_or_null(p->restore_command);
    }
    if (c->standby) {
        o->standby = xmalloc(sizeof(*o->standby));
        *o->standby = *c->standby;
        o->standby->host = dup_or_null(c->standby->host);
    }
    if (c->tekton) {
        o->tekton = xmalloc(sizeof(*o->tekton));
        *o->tekton = *c->tekton;
        http_target_copy(&o->tekton->http, &c->tekton->http);
        o->tekton->hmac_secret_file = dup_or_null(c->tekton->hmac_secret_file);
        o->tekton->repo = dup_or_null(c->tekton->repo);
        o->tekton->ref = dup_or_null(c->tekton->ref);
    }
    return o;
}

static void config_free_copy(struct act_config *o)
{
    if (!o) return;
    free(o->env);
    free(o->namespaces.tools);
    free(o->namespaces.solution);
    free(o->namespaces.tekton);
    if (o->kubernetes) {
        http_target_clear(&o->kubernetes->t.http);
        free(o->kubernetes->t.namespace);
        free(o->kubernetes);
    }
    if (o->portal) http_target_clear(&o->portal->t);
    free(o->portal);
    if (o->patroni) {
        http_target_clear(&o->patroni->t);
        free(o->patroni->username);
        free(o->patroni->password_file);
        free(o->patroni->primary_slot_name);
        free(o->patroni->restore_command);
    }
    free(o->patroni);
    if (o->standby) free(o->standby->host);
    free(o->standby);
    if (o->tekton) {
        http_target_clear(&o->tekton->http);
        free(o->tekton->hmac_secret_file);
        free(o->tekton->repo);
        free(o->tekton->ref);
        free(o->tekton);
    }
    free(o);
}

int act_env_init(struct act_env *e, const struct act_config *given, struct loop *l,
                 struct httpc *http, enum sw_site site, char *err, size_t errlen)
{
    memset(e, 0, sizeof(*e));
    e->loop = l;
    e->http = http;
    e->site = site;
    resolve_names(e, given);
    struct act_config *cfg = config_copy(given);
    e->cfg = cfg;
    if (cfg->kubernetes) {
        if (own_site(&cfg->kubernetes->t.http, "kubernetes", site, err, errlen) < 0 ||
            k8s_client_init(&e->k8s, &cfg->kubernetes->t, NULL, err, errlen) < 0) {
            act_env_clear(e);
            return -1;
        }
        e->have_k8s = true;
    }
    const char *tools = cfg->namespaces.tools ? cfg->namespaces.tools
                        : e->have_k8s         ? e->k8s.namespace
                                              : NULL;
    e->ns.tools = tools ? xstrdup(tools) : NULL;
    e->ns.solution = cfg->namespaces.solution ? xstrdup(cfg->namespaces.solution) : NULL;
    const char *tekton = cfg->namespaces.tekton ? cfg->namespaces.tekton : tools;
    e->ns.tekton = tekton ? xstrdup(tekton) : NULL;
    if (cfg->patroni && own_site(&cfg->patroni->t, "patroni", site, err, errlen) < 0) goto fail;
    if (cfg->patroni && !cfg->patroni->username != !cfg->patroni->password_file) {
        snprintf(err, errlen, "switchover: patroni: username and password_file go together");
        goto fail;
    }
    if (cfg->portal && own_site(&cfg->portal->t, "portal", site, err, errlen) < 0) goto fail;
    if (cfg->tekton && own_site(&cfg->tekton->http, "tekton", site, err, errlen) < 0) goto fail;
    return 0;
fail:
    act_env_clear(e);
    return -1;
}

void act_env_clear(struct act_env *e)
{
    if (!e) return;
    act_env_step_drop(e);
    if (e->have_k8s) k8s_client_clear(&e->k8s);
    config_free_copy((struct act_config *)e->cfg);
    e->cfg = NULL;
    char **names[] = {&e->names.state_configmap,
                      &e->names.health_api,
                      &e->names.health_pdb,
                      &e->names.tfvars_secret,
                      &e->names.maintenance_page,
                      &e->names.keycloak_selector,
                      &e->names.kong,
                      &e->names.patroni_env,
                      &e->names.patroni_statefulset,
                      &e->names.patroni_config,
                      &e->names.patroni_pvc_prefix,
                      &e->ns.tools,
                      &e->ns.solution,
                      &e->ns.tekton};
    for (size_t i = 0; i < ARRAY_LEN(names); i++) {
        free(*names[i]);
        *names[i] = NULL;
    }
    e->have_k8s = false;
}

void act_env_step_set(struct act_env *e, void *p, void (*free_fn)(void *p))
{
    act_env_step_drop(e);
    e->step = (struct act_step_state){.p = p, .free = free_fn};
}

void act_env_step_drop(struct act_env *e)
{
    struct act_step_state st = e->step;
    /* Emptied first: a free function that ends up here again finds nothing to free. */
    e->step = (struct act_step_state){0};
    if (st.p && st.free) st.free(st.p);
}
