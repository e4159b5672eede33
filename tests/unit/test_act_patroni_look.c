/* test_act_patroni_look.c: what the Patroni actuators make of Patroni's answers
 * (switchover/act_patroni_look.h), from the canned documents of tests/data/patroni (real
 * Patroni 3.0.2 lab captures and patroni.md's 4.1.4 samples) and hand-made variants: the
 * PATCH bodies; a demotion is done only when the leader's own document says standby_leader,
 * running, and streaming once the other site is a writable primary (3.0.4+'s
 * replication_state, or 3.0.2's WAL positions); /cluster's config-derived role alone is never
 * trusted; stopped, leaderless and not-streaming states stall; a promotion is done only when
 * the leader is a running writable primary; the env ConfigMap counts when read; every
 * malformed answer is refused with what was seen; and both actuators are in the one table with
 * what they do on the Kubernetes API (the env ConfigMap's get and patch). */
#include <stdlib.h>
#include <string.h>

#include "act_patroni_look.h"
#include "actuators.h"
#include "caps.h"
#include "fileio.h"
#include "tap.h"

#define DATA "tests/data/patroni"

static char *slurp(const char *rel)
{
    char path[256], *s = NULL;
    size_t n;
    snprintf(path, sizeof(path), "%s/%s", DATA, rel);
    if (file_read_all(path, CAP_HTTP_BODY, &s, &n) < 0) {
        diag("cannot read %s", path);
        return strdup("");
    }
    return s;
}

/* Reads config, cluster and node of a data directory into lk; 0 when all parsed. */
static int look_at(struct pat_look *lk, const char *dir, const char *node)
{
    char rel[128], err[300];
    int rc = 0;
    const char *parts[] = {"config.json", "cluster.json", node};
    for (int i = 0; i < 3; i++) {
        snprintf(rel, sizeof(rel), "%s/%s", dir, parts[i]);
        char *b = slurp(rel);
        int r = i == 0   ? pat_read_config(lk, b, strlen(b), err, sizeof(err))
                : i == 1 ? pat_read_cluster(lk, b, strlen(b), err, sizeof(err))
                         : pat_read_node(lk, b, strlen(b), err, sizeof(err));
        if (r < 0) diag("%s: %s", rel, err);
        rc |= r;
        free(b);
    }
    return rc;
}

/* Replaces the look's node document. */
static void node_is(struct pat_look *lk, const char *json)
{
    char err[300];
    if (pat_read_node(lk, json, strlen(json), err, sizeof(err)) < 0) diag("%s", err);
}

static const struct pat_follow GOLD41 = {"pg-gold.primary.example.internal", 5432, "pg_golddr",
                                         NULL};
static const struct pat_follow GOLD302 = {"127.0.0.1", 25501, "golddr", NULL};

static void test_bodies(void)
{
    char *b = pat_demote_body(&GOLD302);
    is_str(b,
           "{\"standby_cluster\":{\"host\":\"127.0.0.1\",\"port\":25501,\"primary_slot_name\":"
           "\"golddr\",\"restore_command\":null,\"create_replica_methods\":[\"basebackup\"]}}",
           "demote: host, port, slot, restore_command null (an old one is removed), basebackup");
    free(b);
    b = pat_env_body(&GOLD302);
    is_str(b, "{\"data\":{\"STANDBY_HOST\":\"127.0.0.1\",\"STANDBY_PORT\":\"25501\"}}",
           "the env ConfigMap patch names the other site's primary, as strings");
    free(b);
    b = pat_env_body(NULL);
    is_str(b, "{\"data\":{\"STANDBY_HOST\":\"\",\"STANDBY_PORT\":\"\"}}",
           "promotion blanks them (the old agent's \"\" means not a standby)");
    free(b);
}

static void test_demoted(void)
{
    struct pat_look lk = {0};
    char d[256];
    must(look_at(&lk, "4.1.4-golddr", "pg-golddr-0.json"));
    is_str(pat_leader_name(&lk), "pg-golddr-0", "the standby leader is found in /cluster");
    is_str(pat_leader_url(&lk), "http://10.98.20.10:8008/patroni", "with its api_url");
    is_int(pat_judge_demoted(&lk, &GOLD41, true, d, sizeof(d)), PAT_DONE,
           "4.1.4 standby cluster streaming from the primary: demoted (%s)", d);
    is_int(pat_judge_promoted(&lk, d, sizeof(d)), PAT_WAIT, "and not promoted (%s)", d);
    struct pat_follow other = GOLD41;
    other.host = "elsewhere.example";
    is_int(pat_judge_demoted(&lk, &other, true, d, sizeof(d)), PAT_WAIT,
           "following another host is not done: the config must change (%s)", d);
    other = GOLD41;
    other.slot = "gold";
    is_int(pat_judge_demoted(&lk, &other, true, d, sizeof(d)), PAT_WAIT,
           "nor through another slot (%s)", d);
    node_is(&lk, "{\"state\":\"running\",\"role\":\"standby_leader\","
                 "\"replication_state\":\"in archive recovery\"}");
    is_int(pat_judge_demoted(&lk, &GOLD41, true, d, sizeof(d)), PAT_STALL,
           "3.0.4+ in archive recovery while the other site is a primary: stalled (%s)", d);
    ok(strstr(d, "not streaming") != NULL, "and the detail says so");
    is_int(pat_judge_demoted(&lk, &GOLD41, false, d, sizeof(d)), PAT_DONE,
           "but done while the other site is not a writable primary: Patroni cannot stream from "
           "a read-only server (%s)",
           d);
    pat_look_clear(&lk);
}

static void test_demoted_302(void)
{
    struct pat_look lk = {0};
    char d[256];
    must(look_at(&lk, "3.0.2-golddr-lagging", "golddr1.json"));
    is_int(pat_judge_demoted(&lk, &GOLD302, true, d, sizeof(d)), PAT_DONE,
           "3.0.2 standby leader that received past its replay point: streaming (%s)", d);
    /* Captured in the lab: a standby restarted on a read-only source asks from the segment's
     * start and gets nothing; its flush position stays below what it replayed. */
    node_is(&lk, "{\"state\":\"running\",\"role\":\"standby_leader\",\"xlog\":{"
                 "\"received_location\":50331648,\"replayed_location\":50332544}}");
    is_int(pat_judge_demoted(&lk, &GOLD302, true, d, sizeof(d)), PAT_STALL,
           "3.0.2 standby that received nothing since its restart: not streaming (%s)", d);
    node_is(&lk, "{\"state\":\"running\",\"role\":\"master\",\"xlog\":{\"location\":1}}");
    is_int(pat_judge_demoted(&lk, &GOLD302, false, d, sizeof(d)), PAT_WAIT,
           "config and /cluster say standby_leader, but PostgreSQL is still a primary: not done "
           "(/cluster's role comes from the config) (%s)",
           d);
    node_is(&lk, "{\"state\":\"stopped\",\"role\":\"demoted\"}");
    is_int(pat_judge_demoted(&lk, &GOLD302, false, d, sizeof(d)), PAT_STALL,
           "PostgreSQL stopped: stalled (%s)", d);
    node_is(&lk, "{\"state\":\"running\",\"role\":\"replica\"}");
    is_int(pat_judge_demoted(&lk, &GOLD302, false, d, sizeof(d)), PAT_WAIT,
           "running as a replica, not yet the standby leader: waiting (%s)", d);
    pat_look_clear(&lk);
}

static void test_env(void)
{
    struct pat_look lk = {0};
    char d[256], err[300];
    must(look_at(&lk, "3.0.2-golddr-lagging", "golddr1.json"));
    const char *cm = "{\"kind\":\"ConfigMap\",\"data\":{\"STANDBY_HOST\":\"\","
                     "\"STANDBY_PORT\":\"\"}}";
    must(pat_read_env(&lk, cm, strlen(cm), err, sizeof(err)));
    is_int(pat_judge_demoted(&lk, &GOLD302, true, d, sizeof(d)), PAT_WAIT,
           "Patroni follows, but the env ConfigMap is blank: not done (%s)", d);
    cm = "{\"data\":{\"STANDBY_HOST\":\"127.0.0.1\",\"STANDBY_PORT\":\"25501\"}}";
    must(pat_read_env(&lk, cm, strlen(cm), err, sizeof(err)));
    is_int(pat_judge_demoted(&lk, &GOLD302, true, d, sizeof(d)), PAT_DONE,
           "with the ConfigMap naming the other site: done");
    pat_look_clear(&lk);

    must(look_at(&lk, "3.0.2-gold", "gold1.json"));
    is_int(pat_judge_promoted(&lk, d, sizeof(d)), PAT_DONE, "3.0.2 primary: promoted (%s)", d);
    cm = "{\"metadata\":{\"name\":\"patroni-spilo-env-vars\"}}";
    must(pat_read_env(&lk, cm, strlen(cm), err, sizeof(err)));
    is_int(pat_judge_promoted(&lk, d, sizeof(d)), PAT_DONE,
           "a ConfigMap without the keys counts as blank");
    cm = "{\"data\":{\"STANDBY_HOST\":\"10.0.0.1\",\"STANDBY_PORT\":\"5432\"}}";
    must(pat_read_env(&lk, cm, strlen(cm), err, sizeof(err)));
    is_int(pat_judge_promoted(&lk, d, sizeof(d)), PAT_WAIT,
           "one still naming a standby host: not done (%s)", d);
    is_int(pat_judge_demoted(&lk, &GOLD302, true, d, sizeof(d)), PAT_WAIT,
           "a primary is not demoted (%s)", d);
    pat_look_clear(&lk);
}

static void test_promoted(void)
{
    struct pat_look lk = {0};
    char d[256], err[300];
    const char *cfg = "{\"ttl\":10}";
    const char *cl = "{\"members\":[{\"name\":\"golddr1\",\"role\":\"leader\",\"state\":"
                     "\"running\",\"api_url\":\"http://127.0.0.1:25811/patroni\"}]}";
    must(pat_read_config(&lk, cfg, strlen(cfg), err, sizeof(err)));
    must(pat_read_cluster(&lk, cl, strlen(cl), err, sizeof(err)));
    node_is(&lk, "{\"state\":\"running\",\"role\":\"standby_leader\"}");
    is_int(pat_judge_promoted(&lk, d, sizeof(d)), PAT_WAIT,
           "standby_cluster gone and /cluster says leader, but PostgreSQL is still in recovery: "
           "not done (%s)",
           d);
    node_is(&lk, "{\"state\":\"running\",\"role\":\"primary\"}");
    is_int(pat_judge_promoted(&lk, d, sizeof(d)), PAT_DONE, "Patroni 4's role primary: done");
    node_is(&lk, "{\"state\":\"starting\",\"role\":\"master\"}");
    is_int(pat_judge_promoted(&lk, d, sizeof(d)), PAT_WAIT, "not yet running: waiting (%s)", d);
    cl = "{\"members\":[{\"name\":\"golddr1\",\"role\":\"replica\",\"state\":\"stopped\","
         "\"api_url\":\"http://127.0.0.1:25811/patroni\"}]}";
    must(pat_read_cluster(&lk, cl, strlen(cl), err, sizeof(err)));
    ok(pat_leader_url(&lk) == NULL, "no member holds the lock: no leader URL");
    is_int(pat_judge_promoted(&lk, d, sizeof(d)), PAT_WAIT, "promotion waits (%s)", d);
    is_int(pat_judge_demoted(&lk, &GOLD302, false, d, sizeof(d)), PAT_WAIT,
           "demotion waits on the config first (%s)", d);
    cfg = "{\"standby_cluster\":{\"host\":\"127.0.0.1\",\"port\":\"25501\","
          "\"primary_slot_name\":\"golddr\"}}";
    must(pat_read_config(&lk, cfg, strlen(cfg), err, sizeof(err)));
    is_int(pat_judge_demoted(&lk, &GOLD302, false, d, sizeof(d)), PAT_STALL,
           "then, a port given as a string still matches, and no leader stalls (%s)", d);
    pat_look_clear(&lk);
}

static void test_patch_answers(void)
{
    char err[300];
    const char *a =
        "{\"ttl\":10,\"standby_cluster\":{\"host\":\"127.0.0.1\",\"port\":25501,"
        "\"primary_slot_name\":\"golddr\",\"create_replica_methods\":[\"basebackup\"]}}";
    is_int(pat_read_patch_answer(a, strlen(a), &GOLD302, err, sizeof(err)), 0,
           "a demotion's answer holding the standby_cluster asked for");
    is_int(pat_read_patch_answer(a, strlen(a), NULL, err, sizeof(err)), -1,
           "is refused as a promotion's answer");
    ok(strstr(err, "127.0.0.1:25501") != NULL, "saying what it holds (%s)", err);
    a = "{\"ttl\":10}";
    is_int(pat_read_patch_answer(a, strlen(a), NULL, err, sizeof(err)), 0,
           "a promotion's answer without standby_cluster");
    is_int(pat_read_patch_answer(a, strlen(a), &GOLD302, err, sizeof(err)), -1,
           "is refused as a demotion's (%s)", err);
}

static void refused(int rc, const char *err, const char *want, const char *what)
{
    ok(rc == -1 && strstr(err, want) != NULL, "%s is refused: %s", what, err);
}

static void test_garbage(void)
{
    struct pat_look lk = {0};
    char err[300];
    const char *b = "<html><body>\x01 Error response</body></html>";
    refused(pat_read_cluster(&lk, b, strlen(b), err, sizeof(err)), err, "not JSON: \"<html>",
            "an HTML page for /cluster");
    b = "[1,2]";
    refused(pat_read_config(&lk, b, strlen(b), err, sizeof(err)), err, "JSON but not an object",
            "an array for /config");
    b = "{\"standby_cluster\":\"yes\"}";
    refused(pat_read_config(&lk, b, strlen(b), err, sizeof(err)), err, "neither an object",
            "a standby_cluster that is a string");
    b = "{\"members\":{}}";
    refused(pat_read_cluster(&lk, b, strlen(b), err, sizeof(err)), err, "no members list",
            "members that is not a list");
    b = "{\"members\":[{\"name\":\"x\",\"role\":\"leader\",\"api_url\":\"file:///etc/passwd\"}]}";
    refused(pat_read_cluster(&lk, b, strlen(b), err, sizeof(err)), err, "no http(s) api_url",
            "a leader whose api_url is not http(s) (it is fetched)");
    b = "{\"role\":\"master\"}";
    refused(pat_read_node(&lk, b, strlen(b), err, sizeof(err)), err, "no state or role",
            "a status document without state");
    b = "{\"data\":[]}";
    refused(pat_read_env(&lk, b, strlen(b), err, sizeof(err)), err, "data is not an object",
            "a ConfigMap whose data is a list");
    b = "{\"a\":1,\"a\":2}";
    refused(pat_read_config(&lk, b, strlen(b), err, sizeof(err)), err, "not JSON",
            "duplicate keys");
    refused(pat_read_patch_answer("", 0, NULL, err, sizeof(err)), err, "not JSON",
            "an empty PATCH answer");
    ok(lk.config == NULL && lk.leader == NULL && lk.node == NULL && lk.env == NULL,
       "nothing refused is kept in the look");
    pat_look_clear(&lk);
    pat_look_clear(NULL);
}

static void test_table(void)
{
    const char *names[] = {"patroni_demote", "patroni_promote"};
    for (size_t n = 0; n < 2; n++) {
        const struct actuator_ops *a = NULL;
        for (size_t i = 0; i < actuator_table_len; i++)
            if (strcmp(actuator_table[i]->action, names[n]) == 0) a = actuator_table[i];
        ok(a && a->check && a->act && a->poll && a->cancel, "%s is in the actuator table",
           names[n]);
        ok(a && a->rbac && a->rbac[0] && strcmp(a->rbac[0], "\"\" configmaps get") == 0 &&
               a->rbac[1] && strcmp(a->rbac[1], "\"\" configmaps patch") == 0 && !a->rbac[2],
           "%s's rbac: core configmaps get and patch, nothing else", names[n]);
    }
}

int main(void)
{
    test_table();
    test_bodies();
    test_demoted();
    test_demoted_302();
    test_env();
    test_promoted();
    test_patch_answers();
    test_garbage();
    return done_testing();
}
