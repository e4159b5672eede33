/* act_tekton.h: the tekton_deploy actuator (actions.h): trigger the deploy pipeline through
 * its EventListener, signed as the old switchover agent did, and follow the PipelineRun it
 * starts, with the old agent's retry rules. Settings: the switchover section's tekton table
 * (act_env.h); runs are followed in namespaces.tekton through the kubernetes table. The wire
 * formats and the retry rules are act_tekton_wire.h.
 *
 * Its check never finds a deploy done: a tekton_deploy step resumed after a crash triggers the
 * pipeline again (a second run of the same ref applies the same configuration again, which
 * the pipeline tolerates). Its Kubernetes calls: tekton.dev pipelineruns list and patch. */
#ifndef DRWATCH_ACT_TEKTON_H
#define DRWATCH_ACT_TEKTON_H

#include "executor.h"

extern const struct actuator_ops tekton_deploy_actuator;

#endif
