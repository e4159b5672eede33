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
