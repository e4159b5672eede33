-- The default DR plans: what each site does for each transition, in order.
--
-- They do what the old switchover agent does (its calls, in order, are the reference), with
-- these changes:
--   * the old primary becomes a standby cluster of the other site through Patroni
--     (patroni_demote: PATCH /config standby_cluster, pg_rewind where needed); the
--     volume-wiping rebuild is only its fallback, marked destructive, and runs only when the
--     other site is a verified healthy leader holding everything this site had;
--   * promotion waits, in C, until the other site is read-only and withdrawn and everything
--     it wrote is replayed (RPO 0), or is cut off from the GSLB: never two writable primaries;
--   * the portal banner, the maintenance page and the Kong restart are best-effort with
--     timeouts and never block a failover;
--   * golddr-maintenance keeps GoldDR's database a standby (withdrawn from the GSLB): making
--     it a second writable primary would break the rule above, and its exit needs no rebuild;
--   * the new state is written only when every step has ended, after the pipeline's outcome;
--     maintenance goes off only after the pipeline succeeded: a failed step stops the plan and
--     leaves maintenance on rather than serving half-configured.
--
-- plan { site, from, to, steps } declares one site's plan for one transition ("force" as
-- `from` is the break-glass active-passive-force from any state). step { action, args... }
-- is one step: the action (see `drwatch plan --actions`), its arguments, and optionally
-- name, timeout, best_effort, destructive and fallback (a step run when this one fails).
-- Names of namespaces, deployments, secrets and URLs come from the config, not from here.

-- active-passive -> golddr-primary: failover (the one transition automation may start)
plan { site = "gold", from = "active-passive", to = "golddr-primary", steps = {
    step { "tfvars", in_recovery = true, in_maintenance = false },
    step { "health_api", replicas = 0, name = "withdraw gold from the GSLB" },
    step { "maintenance", on = true },
    step { "patroni_demote", follow = "golddr", name = "gold's database follows golddr" },
    step { "kong_restart" },
    step { "tell_peer" },
} }
plan { site = "golddr", from = "active-passive", to = "golddr-primary", steps = {
    step { "tfvars", in_recovery = true, in_maintenance = false },
    step { "maintenance", on = true },
    step { "health_api", replicas = 2 },
    step { "patroni_promote", name = "golddr's database becomes the primary" },
    -- Gold is usually down here: telling it must not hold the failover back. When it comes
    -- back writable while the pair is golddr-primary, it fences itself.
    step { "tell_peer", best_effort = true, timeout = "10s", name = "tell gold, if it is there" },
    step { "tekton_deploy" },
    step { "maintenance", on = false, name = "maintenance off once the pipeline succeeded" },
} }

-- golddr-primary -> gold-standby: Gold follows GoldDR as a standby cluster
plan { site = "gold", from = "golddr-primary", to = "gold-standby", steps = {
    step { "health_api", replicas = 0 },
    step { "maintenance", on = true },
    step { "patroni_demote", follow = "golddr",
           fallback = step { "patroni_rebuild", from = "golddr", destructive = true } },
    step { "tell_peer" },
    step { "tekton_deploy", name = "the deploy pipeline (maintenance stays on: a standby site)" },
} }
plan { site = "golddr", from = "golddr-primary", to = "gold-standby", steps = {} }

-- gold-standby -> active-passive: back to Gold; GoldDR becomes its standby again
plan { site = "gold", from = "gold-standby", to = "active-passive", steps = {
    step { "tfvars", in_recovery = false, in_maintenance = false },
    step { "maintenance", on = true },
    step { "tell_peer", name = "ask golddr to demote itself" },
    step { "health_api", replicas = 2 },
    step { "patroni_promote", name = "gold's database becomes the primary" },
    step { "tekton_deploy" },
    step { "maintenance", on = false, name = "maintenance off once the pipeline succeeded" },
} }
plan { site = "golddr", from = "gold-standby", to = "active-passive", steps = {
    step { "tfvars", in_recovery = false, in_maintenance = false },
    step { "maintenance", on = true },
    step { "patroni_demote", follow = "gold", name = "golddr's database follows gold",
           fallback = step { "patroni_rebuild", from = "gold", destructive = true } },
    step { "health_api", replicas = 2, name = "offer golddr to the GSLB as the fallback" },
    step { "tekton_deploy", name = "the deploy pipeline (maintenance stays on: a standby site)" },
} }

-- active-passive -> golddr-maintenance: GoldDR withdrawn for maintenance
plan { site = "gold", from = "active-passive", to = "golddr-maintenance", steps = {
    step { "tell_peer" },
} }
plan { site = "golddr", from = "active-passive", to = "golddr-maintenance", steps = {
    step { "tfvars", in_recovery = false, in_maintenance = true },
    step { "health_api", replicas = 0, name = "withdraw golddr so the GSLB cannot fall back to it" },
    step { "tekton_deploy" },
    step { "maintenance", on = false, name = "maintenance off once the pipeline succeeded" },
} }

-- golddr-maintenance -> active-passive: GoldDR back as the fallback
plan { site = "gold", from = "golddr-maintenance", to = "active-passive", steps = {
    step { "tell_peer" },
} }
plan { site = "golddr", from = "golddr-maintenance", to = "active-passive", steps = {
    step { "tfvars", in_recovery = false, in_maintenance = false },
    step { "patroni_demote", follow = "gold", name = "golddr's database still follows gold" },
    step { "health_api", replicas = 2, name = "offer golddr to the GSLB as the fallback" },
    step { "tekton_deploy", name = "the deploy pipeline (maintenance stays on: a standby site)" },
} }

-- independent -> active-passive: pairing a fresh install
plan { site = "gold", from = "independent", to = "active-passive", steps = {
    step { "tfvars", in_recovery = false, in_maintenance = false },
    step { "health_api", replicas = 2 },
    step { "patroni_promote", name = "gold's database is the primary" },
    step { "maintenance", on = false },
    step { "tell_peer" },
} }
plan { site = "golddr", from = "independent", to = "active-passive", steps = {
    step { "tfvars", in_recovery = false, in_maintenance = false },
    step { "patroni_demote", follow = "gold",
           fallback = step { "patroni_rebuild", from = "gold", destructive = true } },
    step { "health_api", replicas = 2 },
} }

-- active-passive-force: break-glass, from any state (the guards still hold)
plan { site = "gold", from = "force", to = "active-passive", steps = {
    step { "tfvars", in_recovery = false, in_maintenance = false },
    step { "maintenance", on = true },
    step { "tell_peer" },
    step { "health_api", replicas = 2 },
    step { "patroni_promote" },
    step { "tekton_deploy" },
    step { "maintenance", on = false, name = "maintenance off once the pipeline succeeded" },
} }
plan { site = "golddr", from = "force", to = "active-passive", steps = {
    step { "tfvars", in_recovery = false, in_maintenance = false },
    step { "patroni_demote", follow = "gold" },
    step { "health_api", replicas = 2 },
} }
