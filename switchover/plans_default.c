/* plans_default.c: the default plan file (switchover/plans/default.lua), built into the
 * binary so that drwatch always has plans; a config's plans_file replaces it. */
#include <stddef.h>
#include <stdint.h>

#include "plan.h"

/* The file's bytes, between two labels. The Makefile names the .lua file as a prerequisite of
 * this object, so an edit rebuilds it. */
__asm__(".section .rodata\n"
        ".global sw_default_plans_start\n"
        ".global sw_default_plans_end\n"
        "sw_default_plans_start:\n"
        ".incbin \"switchover/plans/default.lua\"\n"
        "sw_default_plans_end:\n"
        ".previous\n");
extern const char sw_default_plans_start[], sw_default_plans_end[];

struct sw_plans *sw_plans_load_default(char *err, size_t errlen)
{
    /* The two labels bound one .incbin: their distance is the file's length. */
    size_t len = (size_t)((uintptr_t)sw_default_plans_end - (uintptr_t)sw_default_plans_start);
    return sw_plans_load_buffer(sw_default_plans_start, len, SW_DEFAULT_PLANS_NAME, err, errlen);
}
