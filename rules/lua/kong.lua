-- Kong: data planes the control plane lost or that run an old configuration, a datastore out
-- of reach, and services answering with too many 5xx.

alert("KongDataPlaneUnseen", {
  expr = function()
    return filter(series("drwatch_kong_data_plane_last_seen_age_seconds"),
                  function(s) return s.value > 300 end)
  end,
  severity = "warning",
  annotations = {
    summary = "Kong data plane {{ $labels.hostname }} ({{ $labels.site }}) unseen for {{ $value | humanizeDuration }}",
    description = "Data planes ping their control plane every 30 s; this one has not for over 5 minutes.",
  },
})

alert("KongDataPlaneConfigOutOfSync", {
  expr = function()
    return filter(series("drwatch_kong_data_plane_config_in_sync"), function(s) return s.value == 0 end)
  end,
  ["for"] = "5m",
  severity = "warning",
  annotations = {
    summary = "Kong data plane {{ $labels.hostname }} ({{ $labels.site }}) runs an old configuration",
    description = "Its config hash differs from the control plane's for 5 minutes: it routes with stale rules.",
  },
})

alert("KongDatastoreUnreachable", {
  expr = function()
    return filter(series("drwatch_kong_datastore_reachable"), function(s) return s.value == 0 end)
  end,
  ["for"] = "1m",
  severity = "critical",
  annotations = {
    summary = "Kong {{ $labels.target }} in {{ $labels.site }} cannot reach its database",
    description = "The Admin API's /status reports the datastore unreachable: configuration changes fail.",
  },
})

alert("KongHigh5xxRatio", {
  expr = function()
    local bad = filter(series("drwatch_kong_service_5xx_ratio"), function(s) return s.value > 0.05 end)
    local busy = filter(series("drwatch_kong_service_requests_per_second"),
                        function(s) return s.value > 1 end)
    return intersect(bad, busy)
  end,
  ["for"] = "5m",
  severity = "warning",
  annotations = {
    summary = "Kong service {{ $labels.service }} in {{ $labels.site }} answers {{ $value | humanizePercentage }} 5xx",
    description = "More than 5% of its requests (at over 1 request/s) end in a 5xx for 5 minutes.",
  },
})
