-- The switchover part (README.md, "Switchover"): the automatic failover it may take, and what
-- on-call must hear about transitions. These read drwatch's own switchover metrics, which
-- carry no site label: each drwatch speaks for its own site (in Prometheus, its instance).
--
-- Maintenance left on: drwatch reads it (drwatch_maintenance_on, from Keycloak's Service, which
-- the maintenance step switches to the maintenance page), and says where it should be off
-- (drwatch_maintenance_should_be_off, from the pair's state). A plan that stops leaves
-- maintenance on by design: TransitionFailed says so at once, MaintenanceLeftOn 15 minutes on.

local function checks_holding()
  local held = {}
  for _, s in ipairs(series("drwatch_automation_evidence")) do
    if s.value == 1 then held[#held + 1] = s.labels.check end
  end
  table.sort(held)
  return held
end

-- The one transition automation may start. The switchover part judges the request again (the
-- transition table, automation = true, its own evidence as of its last observation) and
-- refuses what it would not do; the rule asks only when the published metrics say it would be
-- taken, so a refusal means the world changed in between, not a rule asking in vain at every
-- evaluation (a plan that runs already would be refused: one plan at a time).
transition("AutomaticFailover", {
  to = "golddr-primary",
  when = function()
    return value("drwatch_automation_evidence_complete") == 1
       and value("drwatch_automation_enabled") == 1
       and value("drwatch_state", { state = "active-passive" }) == 1
       and value("drwatch_transition_in_progress") ~= 1
  end,
  reason = function(facts)
    return "every evidence check holds: " .. table.concat(checks_holding(), ", ")
  end,
  -- What the checks saw, for the journal: each resolver's answer and whether the peer answers.
  evidence = function()
    local f, out = facts(), {}
    for resolver, class in pairs(f.gslb) do out["gslb:" .. resolver] = class end
    if f.peer_reachable ~= nil then out.peer_reachable = f.peer_reachable end
    return out
  end,
})

alert("FailoverEvidenceAwaitingApproval", {
  -- The same evidence, with automation off: drwatch waits for a person. No `for`: the
  -- evidence holds only after `samples` GSLB samples and `hold` (switchover section), and
  -- every minute here is downtime. It resolves when the evidence no longer holds, or once a
  -- transition runs.
  expr = function()
    if value("drwatch_automation_enabled") ~= 0
       or value("drwatch_state", { state = "active-passive" }) ~= 1
       or value("drwatch_transition_in_progress") == 1 then
      return nil
    end
    return filter(series("drwatch_automation_evidence_complete"), function(s) return s.value == 1 end)
  end,
  severity = "critical",
  annotations = {
    summary = "Gold is down and the failover to GoldDR waits for approval (automation is off)",
    description = "Every check of drwatch_automation_evidence holds: every resolver answers GoldDR alone, Gold's /health fails, the peer agrees or is unreachable, Gold's database takes no writes (read-only or unreachable), GoldDR is not in maintenance, its lag is under the RPO, no transition within the cooldown. To approve, ask for golddr-primary: edit the ConfigMap switchover-state-<env> and set `transition: golddr-primary`, or curl -X POST -H 'Authorization: Bearer <token>' <drwatch URL>/api/v1/transition -d '{\"to\":\"golddr-primary\",\"reason\":\"<why>\"}'. To decline, do nothing.",
  },
})

alert("TransitionFailed", {
  -- A step that failed, or that a safety guard held back until its deadline, or a run stopped
  -- after a restart. For an hour after it: the counter says when, not until when.
  expr = function()
    return filter(increase("drwatch_action_steps_total", { result = "=~failed|refused|stopped" }, "1h"),
                  function(s) return s.value > 0 end)
  end,
  severity = "critical",
  annotations = {
    summary = "A DR transition's {{ $labels.action }} step ended {{ $labels.result }}",
    description = "Unless the step was best-effort (maintenance, kong_restart: the plan goes on), the plan stopped there and left maintenance on rather than serve half-configured; drwatch_state says where this site is. drwatch's log and the switchover journal say why. Fix the cause, then ask for the transition again.",
  },
})

alert("TransitionStuck", {
  -- Every step has its deadline (the longest, a rebuild, 30 minutes), so a run past 30 minutes
  -- is slow steps in a row or a stuck executor; maintenance stays on meanwhile.
  expr = function() return series("drwatch_transition_info") end,
  ["for"] = "30m",
  severity = "critical",
  annotations = {
    summary = "The transition {{ $labels.from }} -> {{ $labels.to }} has run for more than 30 minutes",
    description = "Run {{ $labels.plan }}, asked for by {{ $labels.trigger }}. Maintenance stays on while it runs. drwatch's log says which step it is in; see drwatch_action_steps_total.",
  },
})

alert("TransitionRefused", {
  -- Counted from 0, so the first refusal of a kind shows. For 15 minutes after it.
  expr = function()
    return filter(increase("drwatch_transition_requests_total", { result = "refused" }, "15m"),
                  function(s) return s.value > 0 end)
  end,
  severity = "info",
  annotations = {
    summary = "A request for {{ $labels.to }} from {{ $labels.source }} was refused",
    description = "drwatch touched nothing. Its log and the switchover journal say why (the transition table, a plan running, the peer's agreement, automation's evidence); so does the ConfigMap's or the API's answer.",
  },
})

alert("WritableLeaderInStandbySite", {
  -- drwatch fenced this site: fencing never waits for a person, the alert says it happened.
  expr = function()
    return filter(increase("drwatch_fence_total", "1h"), function(s) return s.value > 0 end)
  end,
  severity = "critical",
  annotations = {
    summary = "This site's database leader was writable while the pair's state made it the standby",
    description = "drwatch withdrew the site from the GSLB and demoted its database at once. Two sites may have taken writes: find out why it came back writable and what it wrote after the other site was promoted.",
  },
})

alert("MaintenanceLeftOn", {
  -- The site that serves users still sends them to the maintenance page, and no plan is
  -- running that would turn it off: a plan that failed or stopped (maintenance stays on by
  -- design), or a manual switch nobody undid. The standby site keeps it on: not this.
  expr = function()
    if value("drwatch_maintenance_should_be_off") ~= 1
       or value("drwatch_transition_in_progress") == 1 then
      return nil
    end
    return filter(series("drwatch_maintenance_on"), function(s) return s.value == 1 end)
  end,
  ["for"] = "15m",
  severity = "warning",
  annotations = {
    summary = "This site serves users but has been in maintenance for 15 minutes with no plan running",
    description = "Keycloak's Service still selects the maintenance page, so users are sent to the portal. A plan that failed or stopped leaves maintenance on by design: see TransitionFailed, drwatch's log and the switchover journal. Once the cause is fixed, ask for the transition again (its steps that are done are skipped), or switch maintenance off by hand.",
  },
})
