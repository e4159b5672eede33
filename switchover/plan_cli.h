/* plan_cli.h: the `drwatch plan` subcommand (see plan_cli.c). */
#ifndef DRWATCH_PLAN_CLI_H
#define DRWATCH_PLAN_CLI_H

/* argv[0] is "plan". Returns the exit code. */
int plan_main(int argc, char **argv);

#endif
