/* plan_cli.c: `drwatch plan`, which prints what a transition would do on each site and
 * executes nothing (the API's dry run prints the same). */
#include "plan_cli.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "caps.h"
#include "plan.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: drwatch plan --from STATE --to STATE [--site gold|golddr] [--json]\n"
                 "                    [--plans FILE]\n"
                 "       drwatch plan --check FILE\n"
                 "STATE: independent, active-passive, golddr-primary, gold-standby,\n"
                 "       golddr-maintenance; --to active-passive-force is the break-glass plan.\n"
                 "Without --site both sites' plans are printed. Without --plans the built-in\n"
                 "plans (" SW_DEFAULT_PLANS_NAME ") are used.\n");
}

struct plan_args {
    const char *site, *from, *to, *plans, *check;
    bool json;
};

static int parse_args(int argc, char **argv, struct plan_args *a)
{
    static const struct option opts[] = {
        {"site", required_argument, NULL, 's'},  {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},    {"plans", required_argument, NULL, 'p'},
        {"check", required_argument, NULL, 'c'}, {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        switch (c) {
        case 's': a->site = optarg; break;
        case 'f': a->from = optarg; break;
        case 't': a->to = optarg; break;
        case 'p': a->plans = optarg; break;
        case 'c': a->check = optarg; break;
        case 'j': a->json = true; break;
        case 'h': usage(stdout); return 1;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc || (!a->check && (!a->from || !a->to))) {
        usage(stderr);
        return 2;
    }
    return 0;
}

/* Prints site's plan (both sites' when site is NULL). */
static int print_plans(const struct sw_plans *p, const struct plan_args *a)
{
    bool force = strcmp(a->to, "active-passive-force") == 0;
    enum sw_state from, to = SW_ACTIVE_PASSIVE;
    enum sw_site only = SW_GOLD;
    if (sw_state_parse(a->from, &from) < 0 || (!force && (sw_state_parse(a->to, &to) < 0))) {
        fprintf(stderr, "drwatch plan: unknown state (see --help)\n");
        return 2;
    }
    if (a->site && sw_site_parse(a->site, &only) < 0) {
        fprintf(stderr, "drwatch plan: --site is gold or golddr\n");
        return 2;
    }
    struct buf out;
    buf_init(&out, CAP_MIB);
    int rc = 0;
    for (int s = 0; s < SW_SITE_COUNT && rc == 0; s++) {
        if (a->site && (enum sw_site)s != only) continue;
        const struct sw_plan *pl = sw_plans_get(p, (enum sw_site)s, from, to, force);
        if (!pl) {
            fprintf(stderr, "drwatch plan: no plan for %s -> %s (not a transition drwatch makes)\n",
                    a->from, a->to);
            rc = 1;
        } else if (sw_plan_print(pl, &out, a->json) < 0) {
            rc = 1;
        }
    }
    if (rc == 0) fputs(out.data ? out.data : "", stdout);
    buf_free(&out);
    return rc;
}

int plan_main(int argc, char **argv)
{
    struct plan_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc == 1 ? 0 : rc;
    char err[1024];
    const char *file = a.check ? a.check : a.plans;
    struct sw_plans *p =
        file ? sw_plans_load(file, err, sizeof(err)) : sw_plans_load_default(err, sizeof(err));
    if (!p) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (a.check)
        printf("%s: ok\n", file);
    else
        rc = print_plans(p, &a);
    sw_plans_free(p);
    return rc;
}
