/* test_maint_watch.c: maintenance as observed (switchover/maint_watch.h): a Keycloak Service
 * list read as on or off, and which site the pair's state says should be out of maintenance. */
#include <string.h>

#include "maint_watch.h"
#include "tap.h"

static int on_of(const char *body)
{
    return sw_maint_on_of(body, strlen(body));
}

int main(void)
{
    is_int(on_of("{\"items\": [{\"spec\": {\"selector\": {\"app\": "
                 "\"keycloak-maintenance-page\"}}}, {\"spec\": {\"selector\": {\"app\": "
                 "\"other\"}}}]}"),
           1, "the first Service selects the maintenance page: on (the old agent's choice)");
    is_int(on_of("{\"items\": [{\"spec\": {\"selector\": {\"app.kubernetes.io/instance\": "
                 "\"keycloak\", \"app.kubernetes.io/name\": \"keycloak\"}}}]}"),
           0, "it selects Keycloak: off");
    is_int(on_of("{\"items\": []}"), -1, "no Service: unknown");
    is_int(on_of("not json"), -1, "not a list: unknown");
    is_int(on_of("{\"items\": [{\"spec\": {}}]}"), 0, "a Service without a selector: not on");

    ok(sw_maint_should_be_off(SW_ACTIVE_PASSIVE, SW_GOLD) &&
           !sw_maint_should_be_off(SW_ACTIVE_PASSIVE, SW_GOLDDR),
       "active-passive: gold serves, golddr keeps its maintenance");
    ok(sw_maint_should_be_off(SW_GOLDDR_PRIMARY, SW_GOLDDR) &&
           !sw_maint_should_be_off(SW_GOLDDR_PRIMARY, SW_GOLD),
       "golddr-primary: golddr serves");
    ok(sw_maint_should_be_off(SW_GOLD_STANDBY, SW_GOLDDR) &&
           !sw_maint_should_be_off(SW_GOLD_STANDBY, SW_GOLD),
       "gold-standby: golddr serves, gold (the standby) stays in maintenance");
    ok(sw_maint_should_be_off(SW_GOLDDR_MAINTENANCE, SW_GOLD) &&
           !sw_maint_should_be_off(SW_GOLDDR_MAINTENANCE, SW_GOLDDR),
       "golddr-maintenance: gold serves");
    ok(!sw_maint_should_be_off(SW_INDEPENDENT, SW_GOLD) &&
           !sw_maint_should_be_off(SW_INDEPENDENT, SW_GOLDDR),
       "independent: nothing is expected");
    return done_testing();
}
