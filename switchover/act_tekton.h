/* act_tekton.h: the tekton_deploy actuator (actions.h): trigger the deploy pipeline through
 * its EventListener, signed as the old switchover agent did, and follow the PipelineRun it
 * starts, with the old agent's retry rules. Settings: the switchover section's tekton table
 * (act_env.h); runs are followed in namespaces.tekton through the kubernetes table. The wire
 * formats and the retry rules are act_tekton_wire.h.
 *
 * Its check never finds a deploy done, but a step resumed after a crash does not trigger the
 * pipeline again when its journal mark says a trigger left: it follows that trigger's run (by
 * its event id, or when the answer was lost, the run created since). Its Kubernetes calls:
 * tekton.dev pipelineruns list and patch. */
#ifndef DRWATCH_ACT_TEKTON_H
#define DRWATCH_ACT_TEKTON_H

#include "executor.h"

extern const struct actuator_ops tekton_deploy_actuator;

#endif
