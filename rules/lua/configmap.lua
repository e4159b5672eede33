-- The switchover-state ConfigMap: operators request transitions through it.
alert("SwitchoverStateConfigMapMissing", {
  expr = function()
    return filter(series("drwatch_configmap_exists"), function(s) return s.value == 0 end)
  end,
  ["for"] = "5m",
  severity = "warning",
  annotations = {
    summary = "The ConfigMap {{ $labels.configmap }} is missing in {{ $labels.site }}",
    description = "Operators request switchovers through it: without it, no transition can be asked for.",
  },
})

alert("GoldDRInMaintenance", {
  -- Not a fault: a person set GoldDR's maintenance state (switchover-agent.md), which takes it
  -- out of the GSLB and runs its database standalone. Its other alerts are then expected; the
  -- alert manager's inhibition rules mute them on this one (README, "Alert delivery").
  expr = function()
    local maint = filter(series("drwatch_configmap_state_info"),
                         function(s) return s.labels.last_stable_state == "golddr-maintenance" end)
    return max(maint, { "site" })
  end,
  severity = "info",
  annotations = {
    summary = "GoldDR is in maintenance (the switchover-state ConfigMap in {{ $labels.site }} says so)",
    description = "Alerts about GoldDR are muted while it lasts, and a Gold outage now has no DR site to fall back to.",
  },
})
