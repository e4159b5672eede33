/* fuzz_run_journal.c: the replay of the switchover journal's records (run_journal.c) on
 * arbitrary bytes: records separated by newlines, each a type digit and its JSON. Invariants:
 * nothing crashes or leaks; what replay reports is consistent (a step in doubt or an ended step
 * only inside a run, within the run's step count; a finished run has neither in doubt; a mark
 * only of the step in doubt). */
#include <stdint.h>
#include <stdlib.h>

#include "run_journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sw_replayed r;
    sw_journal_replay_bytes(data, size, &r);
    if ((r.in_doubt || r.have_end || r.finished) && !r.have_run) abort();
    if (r.in_doubt && (r.doubt_step >= r.start.nsteps || r.finished)) abort();
    if (r.have_end && r.end_step >= r.start.nsteps) abort();
    if (r.doubt_mark[0] && !r.in_doubt) abort(); /* a mark only of the step in doubt */
    return 0;
}
