/* test_act_env.c: the actuators' settings of the switchover section (switchover/act_env.h):
 * the old agent's object names made from env, names and namespaces given in the config, the
 * Kubernetes namespace as the tools namespace, a target of the other site refused (a site's
 * plans act on that site only), and the env's own copy of everything, valid after the config
 * is freed (a running plan outlives a reload). */
#include <stdio.h>
#include <string.h>

#include "act_env.h"
#include "loop.h"
#include "switchover.h"
#include "tap.h"

static struct config *load(const char *src, char *err, size_t errlen)
{
    const struct cfg_module *mods[] = {&switchover_module};
    return config_load_buffer(src, strlen(src), "drwatch.lua", mods, 1, err, errlen);
}

int main(void)
{
    char err[512];
    struct loop *l = loop_new();
    struct config *c =
        load("switchover = { data_dir = \"/tmp\", env = \"test\" }", err, sizeof(err));
    if (!ok(c != NULL, "a section with only data_dir and env loads")) diag("%s", err);
    const struct switchover_config *sc = config_module(c, "switchover", NULL);
    struct act_env e;
    ok(act_env_init(&e, &sc->act, l, NULL, SW_GOLD, err, sizeof(err)) == 0, "it resolves");
    is_str(e.names.state_configmap, "switchover-state-test", "the state ConfigMap from env");
    is_str(e.names.health_api, "bcgov-health-api-test-generic-api", "the health API from env");
    is_str(e.names.health_pdb, "bcgov-health-api-test-generic-api-pdb", "its PDB");
    is_str(e.names.kong, "konghc-kong", "Kong's control plane, as the old agent names it");
    ok(!e.have_k8s && !e.ns.tools && !e.cfg->patroni, "nothing else is configured");
    act_env_clear(&e);
    act_env_clear(&e);
    ok(true, "clearing twice is safe");
    config_free(c);

    c = load("switchover = { data_dir = \"/d\",\n"
             "  kubernetes = { site = \"golddr\", url = \"http://127.0.0.1:1\", namespace = "
             "\"t-tools\" },\n"
             "  namespaces = { solution = \"t-prod\" },\n"
             "  names = { kong = \"my-kong\" },\n"
             "  patroni = { site = \"golddr\", url = \"http://127.0.0.1:8008\" },\n"
             "  standby = { host = \"gold-db\" },\n"
             "  tekton = { site = \"golddr\", url = \"http://el:8080\", repo = \"r\", ref = "
             "\"refs/heads/x\" },\n"
             "}",
             err, sizeof(err));
    if (!ok(c != NULL, "a full section loads")) diag("%s", err);
    sc = config_module(c, "switchover", NULL);
    ok(act_env_init(&e, &sc->act, l, NULL, SW_GOLDDR, err, sizeof(err)) == 0, "golddr resolves it");
    config_free(c); /* the env keeps its own copy */
    ok(e.have_k8s && strcmp(e.ns.tools, "t-tools") == 0 && strcmp(e.ns.tekton, "t-tools") == 0 &&
           strcmp(e.ns.solution, "t-prod") == 0,
       "tools from the Kubernetes target's namespace, tekton from tools, solution as given");
    is_str(e.names.kong, "my-kong", "a name given in the config");
    ok(e.cfg->patroni && strcmp(e.cfg->patroni->t.url, "http://127.0.0.1:8008") == 0 &&
           e.cfg->standby && strcmp(e.cfg->standby->host, "gold-db") == 0 &&
           e.cfg->standby->port == 5432 && strcmp(e.cfg->tekton->ref, "refs/heads/x") == 0,
       "targets, the standby's host with its default port, tekton: all readable after the config "
       "is freed");
    act_env_clear(&e);

    c = load("switchover = { data_dir = \"/d\",\n"
             "  patroni = { site = \"gold\", url = \"http://127.0.0.1:8008\" } }",
             err, sizeof(err));
    sc = config_module(c, "switchover", NULL);
    ok(act_env_init(&e, &sc->act, l, NULL, SW_GOLDDR, err, sizeof(err)) == -1 &&
           strstr(err, "patroni is a target of site gold, but this drwatch runs in golddr"),
       "a target of the other site is refused (%s)", err);
    config_free(c);

    c = load("switchover = { data_dir = \"/d\", standby = { port = 5432 } }", err, sizeof(err));
    ok(!c && strstr(err, "drwatch.lua:1:") && strstr(err, "host"),
       "standby without its host is refused with file:line (%s)", err);
    config_free(c);
    loop_free(l);
    return done_testing();
}
