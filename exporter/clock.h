/* clock.h: the two clocks: monotonic for deadlines and durations, wall for timestamps. */
#ifndef DRWATCH_CLOCK_H
#define DRWATCH_CLOCK_H

#include <stdint.h>

/* Clocks. mono is CLOCK_MONOTONIC, for deadlines and durations; wall is for timestamps. */
int64_t time_mono_ms(void);
double time_mono_s(void);
double time_wall_s(void);

#endif
