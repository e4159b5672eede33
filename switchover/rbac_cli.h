/* rbac_cli.h: the `drwatch rbac` subcommand (see rbac_cli.c). */
#ifndef DRWATCH_RBAC_CLI_H
#define DRWATCH_RBAC_CLI_H

/* argv[0] is "rbac". Returns the exit code. */
int rbac_main(int argc, char **argv);

#endif
