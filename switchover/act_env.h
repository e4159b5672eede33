/* act_env.h: what the actuators (act_*.c) use, read from the switchover section:
 *
 *     switchover = {
 *       data_dir = "/var/lib/drwatch/switchover",
 *       env = "dev",                 -- the old agent's ENVIRONMENT: names default from it
 *       kubernetes = { site = "gold", namespace = "abc-tools" },   -- this site's API server
 *       namespaces = { tools = "abc-tools", solution = "abc-prod", tekton = "abc-tools" },
 *       names = { kong = "konghc-kong" },     -- any object name, when not the old agent's
 *       patroni = { site = "gold", url = "http://patroni-api:8008",    -- this site's REST API
 *                   username = "patroni", password_file = "...",   -- PATCH /config's basic auth
 *                   primary_slot_name = "gold" },   -- the slot this site follows through
 *       standby = { host = "patroni-golddr.example", port = 5432 },    -- the other site's
 *                                                 -- primary, what standby_cluster follows
 *       portal = { site = "gold", url = "https://portal.example/api" },  -- PUT /maintenance/..
 *       tekton = { site = "gold", url = "http://el-deploy:8080", hmac_secret_file = "...",
 *                  repo = "https://github.com/org/infra.git", ref = "refs/heads/deploy/dev",
 *                  retries = 2, retry_interval = "30s", total_cap = "900s",
 *                  attempt_timeout = "360s" },   -- the old agent's PIPELINE_* defaults
 *     }
 *
 * Every table but namespaces and names is optional: an action whose settings are absent fails
 * its step with "not configured", which a dry run and `drwatch plan` show nothing of. Object
 * names default to the old switchover agent's (reference: switchover-plans.md), from `env`.
 *
 * Ownership: the config owns the settings; struct act_env owns the resolved clients and the
 * names it builds, until act_env_clear. Loop thread. */
#ifndef DRWATCH_ACT_ENV_H
#define DRWATCH_ACT_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "http_target.h"
#include "k8s.h"
#include "transition.h"

struct loop;
struct httpc;
struct sw_peer_link;

/* Object names; NULL in the config means the old agent's default for `env`. */
struct act_names {
    char *state_configmap;     /* switchover-state-<env> (tools namespace) */
    char *health_api;          /* bcgov-health-api-<env>-generic-api (tools) */
    char *health_pdb;          /* <health_api>-pdb (tools) */
    char *tfvars_secret;       /* the tfvars Secret (tekton namespace) */
    char *maintenance_page;    /* keycloak-maintenance-redirect-generic-api (solution) */
    char *keycloak_selector;   /* the label selector of Keycloak's HTTP Service (solution) */
    char *kong;                /* konghc-kong (solution) */
    char *patroni_env;         /* patroni-spilo-env-vars (solution) */
    char *patroni_statefulset; /* patroni-spilo (solution) */
    char *patroni_config;      /* patroni-spilo-config, Patroni's DCS config (solution) */
    char *patroni_pvc_prefix;  /* storage-volume-patroni-spilo- (solution) */
};

struct act_namespaces {
    char *tools, *solution, *tekton;
};

struct act_standby {
    char *host;
    int64_t port;
};

/* Wrappers so that the shared key lists (HTTP_TARGET_KEYS, K8S_TARGET_KEYS) apply. */
struct act_k8s {
    struct k8s_target t;
};
struct act_http {
    struct http_target t;
};

/* This site's Patroni REST API, and how its cluster follows the other site when demoted. */
struct act_patroni {
    struct http_target t;
    char *username;           /* basic auth for PATCH /config (restapi.authentication); NULL:
                                 none. Patroni's GETs are open and are sent without it */
    char *password_file;      /* read at each PATCH: secrets rotate */
    char *primary_slot_name;  /* the slot on the other site's primary; NULL: none */
    char *restore_command;    /* standby_cluster.restore_command; NULL: none */
    int64_t stall_timeout_ms; /* a demotion whose leader stays stopped, leaderless or not
                                 streaming from the other site's primary this long fails */
};

struct act_tekton {
    struct http_target http; /* the EventListener */
    char *hmac_secret_file;
    char *repo; /* repository.clone_url of the push body */
    char *ref;  /* ref of the push body */
    /* The retry rules (switchover-plans.md §2): a failed run is triggered again at most
     * `retries` times, retry_interval apart, while within total_cap of the first trigger; a
     * run unfinished attempt_timeout after its trigger is cancelled and counts as failed. */
    int64_t retries;
    int64_t retry_interval_ms, total_cap_ms, attempt_timeout_ms;
};

/* The actuators' keys of the switchover section (switchover.c embeds them). */
struct act_config {
    char *env;
    struct act_k8s *kubernetes; /* NULL: absent */
    struct act_namespaces namespaces;
    struct act_names names;
    struct act_patroni *patroni;
    struct act_standby *standby;
    struct act_http *portal;
    struct act_tekton *tekton;
};

/* The keys, for a struct act_config at T.m (switchover.c lists them in its section). */
extern const struct cfg_key act_config_keys_kubernetes[], act_config_keys_http[],
    act_config_keys_namespaces[], act_config_keys_names[], act_config_keys_standby[],
    act_config_keys_tekton[], act_config_keys_patroni[];
#define ACT_CONFIG_KEYS(T, m)                                                                   \
    {.name = "env",                                                                             \
     .type = CFG_STRING,                                                                        \
     .def = "dev",                                                                              \
     .offset = offsetof(T, m.env),                                                              \
     .expect = "the environment the old agent's names are made from (switchover-state-<env>)"}, \
        {.name = "kubernetes",                                                                  \
         .type = CFG_OPTIONAL,                                                                  \
         .offset = offsetof(T, m.kubernetes),                                                   \
         .sub = act_config_keys_kubernetes,                                                     \
         .sub_size = sizeof(struct act_k8s),                                                    \
         .expect = "this site's Kubernetes API, as a configmap target"},                        \
        {.name = "namespaces",                                                                  \
         .type = CFG_TABLE,                                                                     \
         .offset = offsetof(T, m.namespaces),                                                   \
         .sub = act_config_keys_namespaces,                                                     \
         .expect = "{ tools = ..., solution = ..., tekton = ... }"},                            \
        {.name = "names",                                                                       \
         .type = CFG_TABLE,                                                                     \
         .offset = offsetof(T, m.names),                                                        \
         .sub = act_config_keys_names,                                                          \
         .expect = "object names, when not the old agent's defaults"},                          \
        {.name = "patroni",                                                                     \
         .type = CFG_OPTIONAL,                                                                  \
         .offset = offsetof(T, m.patroni),                                                      \
         .sub = act_config_keys_patroni,                                                        \
         .sub_size = sizeof(struct act_patroni),                                                \
         .expect = "this site's Patroni REST API, as an HTTP target"},                          \
        {.name = "standby",                                                                     \
         .type = CFG_OPTIONAL,                                                                  \
         .offset = offsetof(T, m.standby),                                                      \
         .sub = act_config_keys_standby,                                                        \
         .sub_size = sizeof(struct act_standby),                                                \
         .expect = "{ host = ..., port = ... }: the other site's primary"},                     \
        {.name = "portal",                                                                      \
         .type = CFG_OPTIONAL,                                                                  \
         .offset = offsetof(T, m.portal),                                                       \
         .sub = act_config_keys_http,                                                           \
         .sub_size = sizeof(struct act_http),                                                   \
         .expect = "the portal whose /maintenance/true|false shows the banner"},                \
    {                                                                                           \
        .name = "tekton", .type = CFG_OPTIONAL, .offset = offsetof(T, m.tekton),                \
        .sub = act_config_keys_tekton, .sub_size = sizeof(struct act_tekton),                   \
        .expect = "the deploy pipeline's EventListener"                                         \
    }

/* What one step's phases share. The executor gives an actuator a slot per phase only, so
 * state that spans act and poll (a trigger's event id, its retries) is held here, owned
 * through its free function. One step runs at a time, so one holder serves every actuator. */
struct act_step_state {
    void *p;
    void (*free)(void *p);
};

/* What the actuators get (the executor's actuator_env). */
struct act_env {
    struct loop *loop;
    struct httpc *http;
    enum sw_site site;
    const struct act_config *cfg; /* the env's own copy: valid whatever a reload frees */
    bool have_k8s;
    struct k8s_client k8s;      /* when have_k8s */
    struct act_names names;     /* resolved: never NULL */
    struct act_namespaces ns;   /* resolved: NULL where neither given nor known */
    struct act_step_state step; /* act_env_step_set, act_env_step_drop */
    int64_t wait_ms;            /* between reads while a phase waits (rebuild); 0: 1000 */
    struct sw_peer_link *peer;  /* the peer link (tell_peer); set by switchover.c, not owned;
                                   NULL: none */
};

/* Resolves cfg for site: the Kubernetes client, every name. Returns 0, or -1 with err filled
 * (a Kubernetes target that cannot be resolved, a target of another site). */
int act_env_init(struct act_env *e, const struct act_config *cfg, struct loop *l,
                 struct httpc *http, enum sw_site site, char *err, size_t errlen);
void act_env_clear(struct act_env *e); /* NULL-safe, idempotent; drops the step state */

/* Makes p (freed with free_fn) the state of the step that runs now, freeing what the holder
 * held: a step cut short by its deadline between two polls is never told it ended, so its
 * state stays until the next step sets its own, or act_env_clear. */
void act_env_step_set(struct act_env *e, void *p, void (*free_fn)(void *p));
/* Frees the step state (the step ended). Idempotent. */
void act_env_step_drop(struct act_env *e);

#endif
