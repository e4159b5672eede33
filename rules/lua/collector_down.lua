-- drwatch itself: a collector target it cannot scrape (its samples are gone, so every rule
-- that reads them is blind), and a configuration reload that was refused.

alert("DrwatchCollectorDown", {
  expr = function()
    -- The peer has its own alert (DrwatchPeerUnreachable, peer.lua).
    return filter(series("drwatch_collector_up", { collector = "!=peer" }),
                  function(s) return s.value == 0 end)
  end,
  ["for"] = "1m",
  severity = "warning",
  annotations = {
    summary = "drwatch cannot collect {{ $labels.collector }} target {{ $labels.target }}",
    description = "drwatch_collector_up has been 0 for a minute; see drwatch_collector_errors_total for the reason.",
  },
})

alert("DrwatchConfigReloadFailed", {
  expr = function()
    return filter(series("drwatch_config_last_reload_successful"), function(s) return s.value == 0 end)
  end,
  ["for"] = "1m",
  severity = "warning",
  annotations = {
    summary = "drwatch refused its new configuration and runs the previous one",
    description = "Run drwatch check-config on the file, or see the log for file:line.",
  },
})
