/* testrules.h: `drwatch test-rules FILE...` (see testrules.c). */
#ifndef DRWATCH_TESTRULES_H
#define DRWATCH_TESTRULES_H

/* Runs every test file; prints promtool's report on stdout; returns the exit code (0, 1). */
int testrules_main(int argc, char **argv);

#endif
