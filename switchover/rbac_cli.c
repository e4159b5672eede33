/* rbac_cli.c: `drwatch rbac`, which prints the least-privilege Roles and RoleBindings the
 * switchover part needs, from what its actuators declare (rbac.h), for kubectl apply. */
#include "rbac_cli.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "actuators.h"
#include "buf.h"
#include "caps.h"
#include "leader.h"
#include "rbac.h"
#include "switchover.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: drwatch rbac --tools NS --solution NS [--tekton NS] [--name NAME]\n"
                 "                    [--service-account SA] [--leader-election]\n"
                 "Prints, as YAML for kubectl apply, one Role and RoleBinding per namespace with\n"
                 "exactly the verbs and resources the switchover part's actuators and its state\n"
                 "ConfigMap use there. The namespaces are the switchover config's `namespaces`\n"
                 "(tekton defaults to tools); NAME defaults to drwatch-switchover, SA (bound, in\n"
                 "the tools namespace) to drwatch. The collectors' reads are not included.\n"
                 "--leader-election adds what two replicas electing a leader through a Lease\n"
                 "in the tools namespace need (leader_election.enabled).\n");
}

int rbac_main(int argc, char **argv)
{
    struct sw_rbac_names n = {.name = "drwatch-switchover", .service_account = "drwatch"};
    static const struct option opts[] = {
        {"tools", required_argument, NULL, 't'},
        {"solution", required_argument, NULL, 's'},
        {"tekton", required_argument, NULL, 'k'},
        {"name", required_argument, NULL, 'n'},
        {"service-account", required_argument, NULL, 'a'},
        {"leader-election", no_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool lease = false;
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        switch (c) {
        case 't': n.tools = optarg; break;
        case 's': n.solution = optarg; break;
        case 'k': n.tekton = optarg; break;
        case 'n': n.name = optarg; break;
        case 'a': n.service_account = optarg; break;
        case 'l': lease = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc || !n.tools || !n.solution) {
        usage(stderr);
        return 2;
    }
    /* The tools namespace's own declarations: the state ConfigMap's, and the Lease's. */
    const char *extra[32];
    size_t k = 0;
    for (const char *const *e = switchover_rbac(); *e && k < 16; e++) extra[k++] = *e;
    for (const char *const *e = leader_rbac; lease && *e && k < 31; e++) extra[k++] = *e;
    extra[k] = NULL;
    struct sw_rbac_source src = {
        .actuators = actuator_table, .nactuators = actuator_table_len, .tools_extra = extra};
    struct buf out;
    buf_init(&out, CAP_MIB);
    char err[512];
    int rc = sw_rbac_yaml(&n, &src, &out, err, sizeof(err));
    if (rc == 0)
        fputs(out.data, stdout);
    else
        fprintf(stderr, "drwatch rbac: %s\n", err);
    buf_free(&out);
    return rc == 0 ? 0 : 1;
}
